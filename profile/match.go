package profile

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// repository strips the tag and digest from an image reference and the
// default registry prefixes, so "docker.io/library/postgres:16" → "postgres".
func repository(image string) string {
	image = strings.ToLower(strings.TrimSpace(image))
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	image = strings.TrimPrefix(image, "docker.io/")
	image = strings.TrimPrefix(image, "index.docker.io/")
	image = strings.TrimPrefix(image, "library/")
	return image
}

// IsPostgresImage reports whether an image looks like a PostgreSQL server.
func IsPostgresImage(image string) bool {
	r := repository(image)
	return strings.Contains(r, "postgres") || strings.Contains(r, "postgis") || strings.Contains(r, "pgvector")
}

func imageMatches(rule, image string) bool {
	rule, r := repository(rule), repository(image)
	return r == rule || strings.HasSuffix(r, "/"+rule)
}

// RoleOf returns the role of a service: the first service rule that
// selects it, else the profile's default_role, else "other". Without rules,
// a PostgreSQL image is the db and the DB service name is the db.
func (p *Profile) RoleOf(s ServiceInfo) string {
	for _, r := range p.Services {
		if r.Name != "" && r.Name != s.Name {
			continue
		}
		if r.Image != "" && !strings.Contains(strings.ToLower(s.Image), strings.ToLower(r.Image)) {
			continue
		}
		if r.Container != "" {
			if ok, _ := path.Match(r.Container, s.ContainerName); !ok {
				continue
			}
		}
		return r.Role
	}
	if p.DB.Service != "" && p.DB.Service == s.Name {
		return RoleDB
	}
	if p.DefaultRole != "" {
		return p.DefaultRole
	}
	return RoleOther
}

// Match picks the profile that best fits the services of a compose
// project. score is 0 when nothing fits; why explains the choice in one
// line. Fallback profiles (generic) are used only when no other profile
// matches, and generic only when a PostgreSQL service exists.
func Match(profiles []*Profile, services []ServiceInfo) (best *Profile, score int, why string) {
	hasPG := false
	for _, s := range services {
		if IsPostgresImage(s.Image) {
			hasPG = true
		}
	}
	var fallback *Profile
	for _, p := range profiles {
		if p == nil {
			continue
		}
		if p.Match.RequiresPostgres && !hasPG {
			continue
		}
		if p.Match.Fallback {
			if fallback == nil {
				fallback = p
			}
			continue
		}
		sc, reasons := p.score(services)
		if sc > score {
			best, score, why = p, sc, fmt.Sprintf("profile %s: %s", p.Name, strings.Join(reasons, "; "))
		}
	}
	if best != nil {
		return best, score, why
	}
	if fallback != nil {
		return fallback, 1, fmt.Sprintf("profile %s: no app profile matched, and the project has a PostgreSQL service", fallback.Name)
	}
	if !hasPG {
		return nil, 0, "no profile matched and the project has no PostgreSQL service; pass --profile FILE to describe the app"
	}
	return nil, 0, "no profile matched; pass --profile FILE to describe the app"
}

// score gives 10 points per service whose image is listed, 5 per image
// pattern hit, 5 per container-name hit.
func (p *Profile) score(services []ServiceInfo) (int, []string) {
	sc := 0
	var reasons []string
	patterns := make([]*regexp.Regexp, 0, len(p.Match.ImagePatterns))
	for _, s := range p.Match.ImagePatterns {
		if re, err := regexp.Compile(s); err == nil {
			patterns = append(patterns, re)
		}
	}
	for _, s := range services {
		hit := false
		for _, img := range p.Match.Images {
			if s.Image != "" && imageMatches(img, s.Image) {
				sc += 10
				reasons = append(reasons, fmt.Sprintf("service %s runs image %s", s.Name, s.Image))
				hit = true
				break
			}
		}
		if !hit {
			for _, re := range patterns {
				if s.Image != "" && re.MatchString(s.Image) {
					sc += 5
					reasons = append(reasons, fmt.Sprintf("service %s image %s matches %s", s.Name, s.Image, re))
					break
				}
			}
		}
		for _, g := range p.Match.ContainerNames {
			if ok, _ := path.Match(g, s.ContainerName); ok && s.ContainerName != "" {
				sc += 5
				reasons = append(reasons, fmt.Sprintf("container %s matches %s", s.ContainerName, g))
				break
			}
		}
	}
	return sc, reasons
}
