package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/dockerx"
	"github.com/seed-e7a9fb3b/upshift/internal/httpx"
	"github.com/seed-e7a9fb3b/upshift/profile"
)

// versionLike matches a version tag (1.2, v2.0.1-rc1); other tags float.
var versionLike = regexp.MustCompile(`^v?\d+(\.\d+)+([-+][0-9A-Za-z.-]+)?$`)

// TagOf returns the tag of an image reference ("" when none).
func TagOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[i+1:]
	}
	return ""
}

// IsFloatingTag reports whether a tag is a moving name (latest, stable, a
// branch) rather than a version.
func IsFloatingTag(tag string) bool { return !versionLike.MatchString(tag) }

func probeVersion(ctx context.Context, eng *dockerx.Engine, p *profile.Profile, res *Result, rep *Report) (version, source, warning string) {
	var tried []string
	for _, src := range p.Version.Sources {
		svc := appService(p, rep, src.Service)
		c, running := res.Containers[svc]
		switch src.Type {
		case profile.VersionHTTP:
			if !running || c.State != "running" {
				tried = append(tried, "http ("+svc+" not running)")
				continue
			}
			v, err := httpVersion(ctx, c, src)
			if err == nil && v != "" {
				return v, fmt.Sprintf("http GET %s:%d%s", svc, src.Port, src.Path), ""
			}
			tried = append(tried, fmt.Sprintf("http %s%s: %v", svc, src.Path, err))
		case profile.VersionCommand:
			if !running || c.State != "running" {
				tried = append(tried, "command ("+svc+" not running)")
				continue
			}
			v, err := commandVersion(ctx, eng, c, src)
			if err == nil && v != "" {
				return v, "command `" + strings.Join(src.Command, " ") + "` in " + svc, ""
			}
			tried = append(tried, fmt.Sprintf("command in %s: %v", svc, err))
		case profile.VersionOCILabel:
			label := src.Label
			if label == "" {
				label = dockerx.LabelVersionOCI
			}
			ref := c.ImageID
			if ref == "" {
				if s, ok := rep.Service(svc); ok {
					ref = s.Image
				}
			}
			img, ok, err := eng.ImageInspect(ctx, ref)
			if err == nil && ok && img.Labels[label] != "" && !IsFloatingTag(img.Labels[label]) {
				return strings.TrimPrefix(img.Labels[label], "v"), "OCI label " + label + " of " + svc + "'s image", ""
			}
			tried = append(tried, "OCI label "+label+" absent")
		case profile.VersionImageTag:
			s, ok := rep.Service(svc)
			if !ok {
				continue
			}
			tag := TagOf(s.Image)
			if tag == "" {
				tag = "latest"
			}
			if IsFloatingTag(tag) {
				tried = append(tried, "image tag "+tag+" is floating")
				return "unknown (tag " + tag + ")", "none", "the image tag of " + svc + " is " + tag + ", which names a moving target, not a version; upshift could not read the real version (" + strings.Join(tried, "; ") + ")"
			}
			return strings.TrimPrefix(tag, "v"), "image tag of " + svc, ""
		}
	}
	return "unknown", "none", "could not tell the running version: " + strings.Join(tried, "; ")
}

func httpVersion(ctx context.Context, c dockerx.Container, src profile.VersionSource) (string, error) {
	var addrs []string
	for _, ip := range c.Networks {
		if ip != "" {
			addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(src.Port)))
		}
	}
	sort.Strings(addrs)
	if hp, ok := c.HostPort(src.Port); ok {
		addrs = append(addrs, hp)
	}
	lastErr := errors.New("no address")
	for _, a := range addrs {
		v, err := getVersion(ctx, "http://"+a+src.Path, src)
		if err == nil {
			return v, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func getVersion(ctx context.Context, url string, src profile.VersionSource) (string, error) {
	resp, err := httpx.GetResponse(ctx, url, 1<<20, 2*time.Second)
	if err != nil {
		return "", err
	}
	body := resp.Body
	var v string
	switch {
	case src.Header != "":
		v = strings.TrimSpace(resp.Header.Get(src.Header))
	case src.JSON != "":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
		s, ok := m[src.JSON].(string)
		if !ok {
			return "", fmt.Errorf("no string field %q", src.JSON)
		}
		v = strings.TrimSpace(s)
	default:
		v = strings.TrimSpace(string(body))
	}
	if src.Regexp != "" {
		re, err := regexp.Compile(src.Regexp)
		if err != nil {
			return "", fmt.Errorf("profile regexp: %w", err)
		}
		m := re.FindStringSubmatch(v)
		if len(m) < 2 {
			return "", fmt.Errorf("%q does not match %s", v, src.Regexp)
		}
		v = m[1]
	}
	if !versionLike.MatchString(v) {
		return "", fmt.Errorf("answered %q, which is not a version", v)
	}
	return v, nil
}

func commandVersion(ctx context.Context, eng *dockerx.Engine, c dockerx.Container, src profile.VersionSource) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out strings.Builder
	r, err := eng.Exec(ctx, c.ID, src.Command, nil, "", nil, &out, nil)
	if err != nil {
		return "", err
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("exit %d: %s", r.ExitCode, r.Stderr)
	}
	s := strings.TrimSpace(out.String())
	if src.Regexp != "" {
		re, err := regexp.Compile(src.Regexp)
		if err != nil {
			return "", fmt.Errorf("profile regexp: %w", err)
		}
		m := re.FindStringSubmatch(s)
		if len(m) < 2 {
			return "", fmt.Errorf("output does not match %s", src.Regexp)
		}
		s = m[1]
	}
	return strings.TrimPrefix(s, "v"), nil
}
