package releases

// Filters for text that looks like a warning but is not one: news in
// upgrade-impact sections, pointers to other documents.

import (
	"regexp"
	"strings"
	"unicode"
)

// hasImpact: the text warns of slow, locking or irreversible work ("No
// downtime is expected" does not count).
func hasImpact(plain string) bool {
	calm := noImpactRe.MatchString(plain)
	for _, m := range impactRe.FindAllStringIndex(plain, -1) {
		before := strings.ToLower(plain[max(0, m[0]-12):m[0]])
		if strings.Contains(plain[m[0]:m[1]], "downtime") && calm || strings.Contains(before, "no ") || strings.Contains(before, "zero ") || strings.Contains(before, "without ") {
			continue
		}
		return true
	}
	return false
}

var (
	infoCodeRe   = regexp.MustCompile(`(?i)\b(?:the )?(?:sql )?(?:queries|statements) (?:included|run|executed) (?:are|is|in)\b|\bthis migration (?:adds|creates|runs|executes|removes|extends|updates)\b`)
	changeVerbRe = regexp.MustCompile(`(?i)^\W{0,3}(?:removed|added|changed|renamed|deprecated|dropped|replaced|moved|updated|migrated)\b`)
	additionRe   = regexp.MustCompile(`(?i)^\W{0,3}(?:under \S+(?: in \S+)?, )?(?:added|adds|adding|new|introduced?|introduces)\b`)
	noImpactRe   = regexp.MustCompile(`(?i)\bno (?:database )?downtime\b|\bno (?:\S+ ){0,2}impact\b|\bnegligible\b|\bbackwards?[- ]compatible\b|\bcatalog-only\b|\bmetadata-only\b`)
	impactRe     = regexp.MustCompile(`(?i)\b(?:may|can|might|will) (?:take|run) (?:a (?:few|long)|several|some|long|slowly|a while|minutes|hours)|\btakes? (?:a few|several|some) (?:minutes|hours)|\blong[- ]running\b|\birreversible\b|\bcannot be (?:undone|reverted)\b|\bplan (?:for|a) (?:maintenance|downtime)\b|\bexclusive lock\b|\btable (?:rewrite|lock)\b|\bdowntime\b`)
)

// failureRe: "In case of an upgrade failure, please check the Downgrade
// Guide …" points to rollback documents.
var failureRe = regexp.MustCompile(`(?i)^\W*in case of (?:an? )?(?:upgrade )?failure\b.{0,40}\b(?:check|see|read|follow|consult)\b`)

var pointerLeftRe = regexp.MustCompile(`(?i)\band the (?:\w+ )?(?:upgrade notes|downgrade guide|release notes|documentation)\b|\bif you (?:are )?upgrad(?:e|ing) from (?:a )?(?:release|version)? ?(?:earlier|older) than \S+|\bfor (?:more |further )?(?:details|information)\b|\bthe other\b|\bin case of an upgrade failure\b|\bimportant\b|\bplease\b|\bof (?:every|each|all) (?:releases?|versions?)(?: in between)?|\bin between\b`)

var pointerRe = regexp.MustCompile(`(?i)\b(?:please |be sure to |make sure to )?(?:read|see|check|review|consult|refer to)\b.{0,40}\b(?:upgrade notes|upgrade guide|downgrade guide|release notes|changelog|upgrade instructions|documentation|docs|blog post|this post)\b`)

// onlyPointers reports whether every sentence of a text only points to
// other documents.
func onlyPointers(plain string) bool {
	if !strings.Contains(strings.ToLower(plain), "read") && !strings.Contains(strings.ToLower(plain), "see") && !strings.Contains(strings.ToLower(plain), "check") && !strings.Contains(strings.ToLower(plain), "review") {
		return false
	}
	rest := plain
	n := 0
	for rest != "" {
		var s string
		s, rest = cutSentence(rest)
		if strings.TrimSpace(s) == "" {
			continue
		}
		if failureRe.MatchString(s) {
			n++
			continue
		}
		m := pointerRe.FindStringIndex(s)
		if m == nil {
			return false
		}
		// What is left besides the pointer must be a condition or filler.
		left := pointerLeftRe.ReplaceAllString(s[:m[0]]+" "+s[m[1]:], " ")
		letters := 0
		for _, r := range left {
			if unicode.IsLetter(r) {
				letters++
			}
		}
		if letters > 12 {
			return false
		}
		n++
	}
	return n > 0
}
