package profile

// ExpectedHead is the schema head version expects, or "" when the profile
// does not know it.
func (p *Profile) ExpectedHead(version string) string {
	if p == nil {
		return ""
	}
	return p.Schema.Heads[version]
}

// VersionOfHead is the version whose expected schema head is head, or "".
func (p *Profile) VersionOfHead(head string) string {
	if p == nil {
		return ""
	}
	for v, h := range p.Schema.Heads {
		if h == head {
			return v
		}
	}
	return ""
}
