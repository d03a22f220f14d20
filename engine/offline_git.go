package engine

import (
	"context"
	"os/exec"
	"strings"
	"time"

	"github.com/seed-e7a9fb3b/upshift/releases"
	semver "github.com/seed-e7a9fb3b/upshift/releases/version"
)

// gitTagNotes are the app's released versions read from its git clone when
// the compose directory is one (Dify's docker/ in a langgenius/dify clone):
// one empty note per version tag. The clone must be the app's own, its
// origin the profile's GitHub repository, so that a compose-only repository
// (mattermost/docker) never passes its tags off as the app's. nil when the
// directory is no such clone.
func (s *Session) gitTagNotes(ctx context.Context) []releases.Note {
	repo := s.Det.Profile.Notes.GitHub
	dir := s.Det.Stack.Invocation.WorkingDir
	if repo == "" || dir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	git := func(args ...string) (string, bool) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
		return string(out), err == nil
	}
	origin, ok := git("config", "--get", "remote.origin.url")
	if !ok || !sameRepo(origin, repo) {
		return nil
	}
	tags, ok := git("tag", "--list")
	if !ok {
		return nil
	}
	var notes []releases.Note
	for _, t := range strings.Fields(tags) {
		if v, err := semver.Parse(t); err == nil && !v.IsPrerelease() {
			notes = append(notes, releases.Note{Version: t})
		}
	}
	return notes
}

// sameRepo: a git remote URL (https or ssh, with or without .git) names
// the GitHub repository owner/name.
func sameRepo(url, repo string) bool {
	u := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(url), ".git"))
	r := strings.ToLower(repo)
	return strings.HasSuffix(u, "/"+r) || strings.HasSuffix(u, ":"+r)
}
