package demo

import "testing"

func TestN9eFlags(t *testing.T) {
	t.Setenv("N9E_CONFIGS", "")
	tests := []struct {
		mode        string
		wantVersion bool
		wantDir     string
		wantErr     bool
	}{
		{"n9e", false, "etc", false},
		{"n9e -version", true, "etc", false},
		{"n9e --version", true, "etc", false},
		{"n9e -configs /app/etc", false, "/app/etc", false},
		{"n9e -configs=/srv/n9e -crypto-key k", false, "/srv/n9e", false},
		{"n9e -configs", false, "", true},
		{"n9e -verbose", false, "", true},
		{"mattermost", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			v, dir, err := n9eFlags(tt.mode)
			if (err != nil) != tt.wantErr || v != tt.wantVersion || (!tt.wantErr && dir != tt.wantDir) {
				t.Errorf("n9eFlags(%q) = %v, %q, %v", tt.mode, v, dir, err)
			}
		})
	}
	t.Setenv("N9E_CONFIGS", "/etc/n9e")
	if _, dir, _ := n9eFlags("n9e"); dir != "/etc/n9e" {
		t.Errorf("N9E_CONFIGS ignored: %q", dir)
	}
}

// The background steps are the ones n9e runs after it serves; every step
// belongs to a lookalike version.
func TestN9eSteps(t *testing.T) {
	known := map[string]bool{}
	for _, v := range (n9eApp{}).versions() {
		known[v] = true
	}
	for _, st := range n9eSteps {
		if !known[st.since] || st.table == "" {
			t.Errorf("step %+v", st)
		}
	}
}
