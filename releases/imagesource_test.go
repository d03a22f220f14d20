package releases

import "testing"

func TestGitHubRepoOfSource(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/miniflux/v2":            "miniflux/v2",
		"https://github.com/miniflux/v2.git":        "miniflux/v2",
		"https://github.com/langgenius/dify/tree/x": "langgenius/dify",
		"git@github.com:owner/repo.git":             "owner/repo",
		"https://gitlab.com/a/b":                    "",
		"https://github.com/only-owner":             "",
		"":                                          "",
		"not a url":                                 "",
	} {
		got, ok := GitHubRepoOfSource(in)
		if got != want || ok != (want != "") {
			t.Errorf("GitHubRepoOfSource(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
