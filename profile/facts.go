package profile

import "strings"

// VersionLocation says where a stack of this app sets its version, in the
// form detect reports it: "env:KEY", "compose:SERVICE.image", "git:tag" or
// "download"; a floating tag is only known from the files.
func (p *Profile) VersionLocation() string {
	a := p.Apply
	switch a.Method {
	case ApplyEnv:
		return "env:" + a.EnvKey
	case ApplyImageTag:
		if len(a.Services) > 0 {
			return "compose:" + strings.Join(a.Services, ",") + ".image"
		}
		return "compose:image"
	case ApplyGitCheckout:
		return "git:tag"
	case ApplyDownload:
		return "download"
	}
	return ""
}

// MigrationTrigger says in words what makes the schema migrate.
func (p *Profile) MigrationTrigger() string {
	m := p.Migration
	switch m.Mode {
	case MigrateOneOff:
		s := "one-off: `" + strings.Join(m.Command, " ") + "` in a one-off container of " + m.Service + "'s image"
		for _, a := range m.After {
			s += ", then `" + strings.Join(a, " ") + "`"
		}
		return s + "; the image never migrates by itself"
	case MigrateEntrypoint:
		who := m.Service
		if who == "" {
			who = "the app services"
		}
		s := who + " migrates when it starts (entrypoint)"
		if m.ToggleEnv != "" {
			s += ", when " + m.ToggleEnv + "=true"
		}
		return s
	}
	return "none"
}

// Engines are the database engines the app supports (its variants, else
// db.engine).
func (p *Profile) Engines() []string {
	if len(p.DB.Variants) == 0 {
		return []string{p.DB.Engine}
	}
	out := make([]string, 0, len(p.DB.Variants))
	for _, v := range p.DB.Variants {
		out = append(out, v.Engine)
	}
	return out
}
