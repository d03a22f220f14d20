package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/seed-e7a9fb3b/upshift/profile"
	"github.com/seed-e7a9fb3b/upshift/releases"
	"github.com/seed-e7a9fb3b/upshift/upgrade"
)

// planDBHop turns the path's unmet minimum-PostgreSQL rules into a
// PostgreSQL major hop when an image of the new major is known
// (--postgres-image, else the profile's db.major_image); without one the
// path stays blocked and the notice says how to get the hop.
func (s *Session) planDBHop(ctx context.Context, path *releases.Path) []string {
	if len(path.DBNeeds) == 0 {
		return nil
	}
	need := 0
	for _, n := range path.DBNeeds {
		if n.Engine != profile.EnginePostgres {
			return nil // only PostgreSQL servers are moved
		}
		need = max(need, leadingInt(n.Version))
	}
	rep := s.Det.Report
	from := leadingInt(strings.TrimPrefix(serverVersionOf(rep.DB.ServerVersion), "PostgreSQL "))
	if from == 0 || need == 0 {
		return nil
	}
	image, to := s.opts.PostgresImage, s.opts.PostgresMajor
	if to == 0 && image != "" {
		if to = s.imageMajor(ctx, image); to == 0 {
			path.Blockers = append(path.Blockers, fmt.Sprintf("which PostgreSQL major the image %s runs is not known (no version in its tag or its env). Pass --postgres-major N with it", image))
			path.Blocked = true
			return nil
		}
	}
	if to == 0 {
		to = need
	}
	if image == "" && s.Det.Profile.DB.MajorImage != "" {
		image = strings.ReplaceAll(s.Det.Profile.DB.MajorImage, "{{major}}", strconv.Itoa(to))
	}
	if image == "" {
		return []string{fmt.Sprintf("upshift can upgrade PostgreSQL %d to %d as a hop of this plan (dump, restore into the new major on a new volume, compare, switch the compose file; the old volume is kept): pass --postgres-image REF (e.g. postgres:%d-alpine), or set db.major_image in the profile", from, need, need)}
	}
	if to < need || to <= from {
		path.Blockers = append(path.Blockers, fmt.Sprintf("the new PostgreSQL server would be %d (%s), but the path needs %d or newer, and the server runs %d. Pass an image of a newer major (--postgres-image, --postgres-major)", to, image, need, from))
		path.Blocked = true
		return nil
	}
	first := len(path.Hops)
	for _, n := range path.DBNeeds {
		path.Blockers = slices.DeleteFunc(path.Blockers, func(b string) bool { return b == n.Blocker })
		if i := slices.IndexFunc(path.Hops, func(h releases.Hop) bool { return h.Version == n.Hop }); i >= 0 && i < first {
			first = i
		}
	}
	if first == len(path.Hops) {
		return nil
	}
	path.Blocked = len(path.Blockers) > 0
	path.DBHop = &releases.DBHop{
		Before: path.Hops[first].Version, Engine: profile.EnginePostgres, From: rep.DB.ServerVersion,
		FromMajor: from, ToMajor: to, Image: image,
	}
	return nil
}

// withDBHop inserts the PostgreSQL major hop before the app hop it serves;
// it runs at the version the app has there.
func withDBHop(p releases.Path, hops []upgrade.Hop) []upgrade.Hop {
	h := p.DBHop
	if h == nil {
		return hops
	}
	out := make([]upgrade.Hop, 0, len(hops)+1)
	prev := p.From
	for _, uh := range hops {
		if uh.Version == h.Before {
			out = append(out, upgrade.Hop{Version: prev, Postgres: &upgrade.PostgresMajor{FromMajor: h.FromMajor, ToMajor: h.ToMajor, Image: h.Image}})
		}
		out = append(out, uh)
		prev = uh.Version
	}
	return out
}

var pgBinPath = regexp.MustCompile(`/usr/lib/postgresql/(\d+)/`)

// imageMajor is the PostgreSQL major of an image: from its tag
// ("17-alpine", "17.2"), else from the local image's env (PG_MAJOR of the
// official image, a Debian /usr/lib/postgresql/N/bin in PATH).
func (s *Session) imageMajor(ctx context.Context, ref string) int {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		if n := leadingInt(ref[i+1:]); n > 0 {
			return n
		}
	}
	if s.Eng == nil {
		return 0
	}
	img, ok, err := s.Eng.ImageInspect(ctx, ref)
	if err != nil || !ok {
		return 0
	}
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PG_MAJOR" {
			if n := leadingInt(v); n > 0 {
				return n
			}
		}
		if m := pgBinPath.FindStringSubmatch(v); k == "PATH" && m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

// leadingInt is the number a string starts with (0 when none).
func leadingInt(s string) int {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// serverVersionOf drops what follows the version ("15.8 (Debian …)").
func serverVersionOf(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "PostgreSQL ") {
		return v
	}
	if i := strings.IndexAny(v, " ("); i >= 0 {
		return v[:i]
	}
	return v
}
