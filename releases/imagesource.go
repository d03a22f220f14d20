package releases

import (
	"net/url"
	"regexp"
	"strings"
)

// LabelSource is the OCI label naming where an image's source lives.
const LabelSource = "org.opencontainers.image.source"

var ghPartRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// GitHubRepoOfSource is the owner/repo an image's
// org.opencontainers.image.source label names, when it is a GitHub
// repository ("https://github.com/miniflux/v2" → "miniflux/v2"); ok is
// false for anything else (another host, a bare path). It lets a profile
// without release_notes, like generic, find the app's releases.
func GitHubRepoOfSource(label string) (repo string, ok bool) {
	s := strings.TrimSpace(label)
	s = strings.TrimPrefix(s, "git+")
	if strings.HasPrefix(s, "git@github.com:") {
		s = "https://github.com/" + strings.TrimPrefix(s, "git@github.com:")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh" && u.Scheme != "git") {
		return "", false
	}
	if h := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www."); h != "github.com" {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return "", false
	}
	owner, name := parts[0], strings.TrimSuffix(parts[1], ".git")
	if !ghPartRe.MatchString(owner) || !ghPartRe.MatchString(name) {
		return "", false
	}
	return owner + "/" + name, true
}
