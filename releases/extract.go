package releases

import (
	"regexp"
	"strings"
)

// Extract returns what the admin must know from one note. The note is read
// into blocks (ParseNote); each block gets the class of its scope: a
// lead-in line ("how to upgrade:") scopes the list after it, an admonition
// its content, a (pseudo-)heading its section. Kinds, in order of
// precedence: a required stop or a forbidden path; env renames (breaking);
// a minimum dependency version (requirement); deprecation or removal
// wording, or a deprecation section; raw SQL, or (when flagged) code,
// "run/execute/by hand" wording or a numbered upgrade step (manual
// action); anything else flagged is breaking. Features and fixes are not
// flagged; neither is text that takes the alarm back ("no breaking
// changes") or speaks to plugin developers. Near-duplicates are merged.
func Extract(n Note) []Warning {
	// Most versions of a changelog are features and fixes: when no word
	// that could make a warning occurs, skip parsing altogether.
	if !mayWarnIndex.in(strings.ToLower(n.Body)) && !mayWarnIndex.in(strings.ToLower(n.Title)) {
		return nil
	}
	return extractDoc(ParseNote(n.Body, n.Format), n.Version, classifyHeading(n.Title))
}

// ExtractAll extracts the warnings of every note, in note order.
func ExtractAll(notes []Note) []Warning {
	var out []Warning
	for _, n := range notes {
		out = append(out, Extract(n)...)
	}
	return out
}

// extractDoc extracts the warnings of a parsed note; title is the class of
// the note's title ("v5 升级 v6 手册" makes the whole note an upgrade guide).
func extractDoc(doc Doc, ver string, title section) []Warning {
	bs := doc.Blocks
	scope := make([]section, len(bs))
	isLead := make([]bool, len(bs))
	for i := range bs {
		s := leadIn(bs, i)
		// "Removed deprecated mmctl commands:" is a change with details,
		// not a heading.
		if s != secNone && bs[i].Kind == BlockItem && changeVerbRe.MatchString(bs[i].Plain) {
			continue
		}
		if s == secNone {
			// "- **Changes to All plans:**" over sub-items only groups them.
			// Unless the item says something itself ("Removed deprecated
			// mmctl commands:"): then it is the warning, its sub-items the detail.
			if containerItem(bs, i) {
				if _, own := classifyBlock(bs[i], secNone, ver); !own {
					isLead[i] = true
				}
			}
			continue
		}
		isLead[i] = true
		switch {
		case bs[i].Kind == BlockItem:
			for j := i + 1; j < len(bs) && descends(bs, j, i); j++ {
				scope[j] = s
			}
		case i+1 < len(bs) && sameSection(bs[i], bs[i+1]) && bs[i+1].Admonition == bs[i].Admonition:
			if bs[i+1].Kind == BlockItem || bs[i+1].Kind == BlockRow {
				for j := i + 1; j < len(bs) && sameSection(bs[i], bs[j]) && bs[j].Depth > bs[i].Depth; j++ {
					scope[j] = s
				}
			} else {
				scope[i+1] = s
			}
		}
	}
	var out []Warning
	owner := make([]int, len(bs)) // warning index of each block, or -1
	for i := range bs {
		owner[i] = -1
		b := bs[i]
		// Absorbed into the warning of an enclosing item, or of the
		// paragraph that introduces this list ("add two entries:").
		p := b.Parent
		if intro := introParagraph(bs, i); intro >= 0 {
			p = intro
		}
		if p >= 0 && p < i && owner[p] >= 0 {
			w := &out[owner[p]]
			w.Text += "\n" + indentText(blockText(b), b.Depth)
			w.Renames = appendNew(w.Renames, findRenames(stripInlineMarkup(b.Plain), ver)...)
			w.Requires = appendNew(w.Requires, findRequirements(stripInlineMarkup(b.Plain))...)
			owner[i] = owner[p]
			continue
		}
		if isLead[i] && b.Code == "" {
			continue
		}
		sec := scope[i]
		if sec == secNone {
			sec = headingClass(b, b.admonHeads)
		}
		if sec == secNone {
			sec = admonitionSection(b.Admonition)
		}
		if sec == secNone {
			sec = headingClass(b, 0)
		}
		if sec == secNone {
			sec = title
		}
		w, ok := classifyBlock(b, sec, ver)
		if !ok {
			continue
		}
		if k := mergeInto(out, w); k >= 0 {
			owner[i] = k
			continue
		}
		out = append(out, w)
		owner[i] = len(out) - 1
	}
	return out
}

var (
	attributionRe = regexp.MustCompile(`(?i)^\W*(?:(?:by|thanks(?: to)?|credits?|contributed by|reported by|authored by)\s*:?\s*(?:@[\w-]+[\s,&and]*)+(?:\(#?\d+\))?\W*$|(?:special |many |big )?thanks (?:to|go to)\b)`)
	// devItemRe: a commit-style item about tooling, tests or docs.
	devItemRe = regexp.MustCompile(`(?i)^\W{0,3}(?:\((?:pnpm|npm|yarn|vscode|ide|lint|linter|eslint|prettier|ci|cd|tests?|e2e|unit|deps|dev|devcontainer|build|docs?|storybook|typescript|renovate|github|actions|i18n|release|tooling|makefile|readme)\)|(?:ci|test|tests|build|docs|style)(?:\([^)]*\))?:|[a-z]+\((?:release|ci|cd|deps|dev|test|tests|build|docs|lint|actions|github|tooling|e2e|i18n)\):)`)
	fixItemRe = regexp.MustCompile(`(?i)^\W{0,3}(?:(?:fix(?:ed|es)?|bugfix|hotfix)\b|修复|修正)`)
	// cnRemovalRe: "移除情绪功能" (removed a feature or setting).
	cnRemovalRe = regexp.MustCompile(`^\W{0,3}(?:移除|删除|去除|下线)了?(?:[^，。；]{1,20}(?:功能|配置|设置|选项|容器|支持|模型|接口|参数)|[^，。；a-zA-Z]{2,12}$)`)
	cnAdminRe   = regexp.MustCompile(`(?:需要|必须|请)(?:重新|手动|手工)?(?:配置|设置|修改|迁移|备份|删除|下载)|需要重新`)
	// behaviourRe: wording of a change that breaks existing setups.
	behaviourRe     = regexp.MustCompile(`(?i)^\W{0,3}(?:[a-z]+(?:\([^)]*\))?!?:\s*)?(?:disallow|block|deny|forbid|restrict)s?\b.{0,160}\b(?:by default|(?:is (?:now |also )?)?configurable|unless)\b|\b(?:can|could|may) no longer be (?:used|set|configured|enabled|modified|changed|edited|disabled)\b|\bmust now (?:be|use|have|contain|match|include)\b|\b(?:is|are) no longer (?:supported|available|allowed|possible|accepted)\b|\bonly (?:\S+ ){1,4}(?:are|is) (?:now )?supported\b|\bno longer (?:reads?|honou?rs?|accepts?) (?:the )?\S+ (?:option|setting|variable|flag|parameter)`)
	defaultChangeRe = regexp.MustCompile(`(?i)\b(?:enable|disable)[sd]? \S+ by default\b|\bchang(?:e|ed|es|ing) (?:the )?default (?:value |setting )?(?:for|of)\b|\bnow defaults? to\b|\bdefault (?:value )?(?:is|has) (?:now|changed)\b|\bdefaults? (?:has been |was )?changed\b`)
	ciRe            = regexp.MustCompile(`(?i)continuous integration|\bCI\b|\btests?\b|github actions?|workflow`)
	requireWordRe   = regexp.MustCompile(`(?i)requir|minimum|at least|\bneeds?\b|needed|\bdrop|no longer|or (?:newer|later|higher|above)|and (?:later|newer|above)|最低|至少|需要|要求`)
	adminObjRe      = regexp.MustCompile("(?i)config|setting|\\.env|environment|variable|database|migration|docker|compose|volume|`[A-Z][A-Z0-9_]{3,}`|\\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\\b")
)

func classifyBlock(b Block, sec section, ver string) (Warning, bool) {
	text := strings.TrimSpace(b.Text)
	code := strings.TrimSpace(b.Code)
	// Cheap word checks first: most items of a changelog are features and
	// fixes, and everything below is the cost of extraction.
	if !sec.flagged() && code == "" && !triggerIndex.in(strings.ToLower(b.Plain)) && !triggerIndex.in(strings.ToLower(text)) {
		return Warning{}, false
	}
	plain := stripInlineMarkup(b.Plain)
	if !hasLetters(plain) && code == "" || attributionRe.MatchString(plain) && code == "" {
		return Warning{}, false
	}
	lp := strings.ToLower(plain)
	lt := strings.ToLower(text)
	// "If you upgrade from before v11.8, please read the other Important
	// Upgrade Notes": a pointer, with nothing to know in itself.
	if code == "" && onlyPointers(plain) {
		return Warning{}, false
	}
	digit := strings.ContainsAny(plain, "0123456789")
	var renames []Rename
	if anyOf(lp, renameWords) {
		renames = findRenames(plain, ver)
	}
	var reqs []Requirement
	if digit && mentionsDep(lp) {
		reqs = findRequirements(plain)
	}
	var stops []NoteStop
	if digit && anyOf(lp, stopWords) {
		stops = findStops(plain, ver)
	}
	forbidden := anyOf(lp, forbiddenWords) && forbiddenRe.MatchString(plain)
	marker := anyOf(lt, markerWords) && (anyMatch(markerRes, text) || anyMatch(markerRes, plain))
	if anyOf(lp, behaviourWords) && behaviourRe.MatchString(plain) ||
		strings.Contains(lp, "default") && defaultChangeRe.MatchString(plain) && adminObjRe.MatchString(plain) {
		marker = true
	}
	// "Fix ... warning banner", "修复…需要手动…": a fix is no alarm.
	fix := anyOf(lp, fixWords) && fixItemRe.MatchString(plain)
	if fix {
		marker = false
	}
	depr := anyOf(lp, deprWords) && deprecationRe.MatchString(plain)
	admin := matchGated(lp, plain, adminChecks) || anyOf(lp, cnAdminWords) && cnAdminRe.MatchString(plain) && !fix
	sqlLines := false
	if strings.Contains(text, ";") && anyOf(lt, sqlWords) {
		for _, l := range strings.Split(text, "\n") {
			if sqlLineRe.MatchString(l) {
				sqlLines = true
			}
		}
	}
	flagged := sec.flagged() || marker
	removedParam := anyOf(lp, removalWords) && removedParamRe.MatchString(plain)
	if !flagged && anyOf(lp, removalWords) && (removalRe.MatchString(plain) || removedParam || cnRemovalRe.MatchString(plain)) && !ciRe.MatchString(plain) && !uiRe.MatchString(plain) {
		depr = true
	}
	// "Fixed an issue where SAML login failed …" and "Fix: remove owner
	// details from the API" are fixes, not requirements or removals.
	if fix && !sec.flagged() {
		reqs, depr = nil, false
		if !strings.Contains(lp, "you") {
			admin = false
		}
	}
	// Outside a flagged section a version needs wording that makes it a
	// minimum: "Require PHP 8.1+" is one, "Fix PHP 8.2+ compatibility" not.
	if len(reqs) > 0 && !requireWordRe.MatchString(plain) && (!flagged || sec != secRequirement && sec != secBreaking) {
		reqs = nil
	}
	strong := len(renames) > 0 || len(reqs) > 0 || len(stops) > 0 || forbidden || sqlLines
	if strings.ContainsAny(plain[:min(len(plain), 24)], "(:") && devItemRe.MatchString(plain) && !strings.Contains(firstLine(plain), "!:") {
		sec = secInternal
	}
	if sec == secInternal && len(renames) == 0 && len(stops) == 0 && !forbidden && !removedParam {
		return Warning{}, false
	}
	if !strong && (anyOf(lp, negationWords) && negationRe.MatchString(plain) || anyOf(lp, nagWords) && nagRe.MatchString(plain) && !admin) {
		return Warning{}, false
	}
	if !strong && !marker && anyOf(lp, audienceWords) && audienceRe.MatchString(plain) && !adminObjRe.MatchString(plain) {
		return Warning{}, false
	}
	if !flagged && !strong && !depr && !admin {
		return Warning{}, false
	}
	// In an upgrade-impact section, "Added column X; no downtime" and
	// "New settings were added" are news, not something to act on.
	if (sec == secImportant || sec == secUpgrade) && !marker && !strong && !admin && !depr && (b.Admonition == "" || b.Kind == BlockRow || infoCodeRe.MatchString(plain)) &&
		(additionRe.MatchString(plain) || noImpactRe.MatchString(plain)) && !hasImpact(plain) {
		return Warning{}, false
	}
	// A table row needs words of its own: the section alone does not
	// make every row of an upgrade-path table a warning.
	if b.Kind == BlockRow && !marker && !strong && !depr && !admin {
		return Warning{}, false
	}
	// "The SQL queries included are:" documents the migration; nothing to run.
	shellOrSQL := code != "" && (isCommandLang(b.Lang) || sqlLineRe.MatchString(firstLine(code))) && !infoCodeRe.MatchString(plain)
	section := b.Section
	if section == nil {
		section = []string{}
	}
	w := Warning{
		Version: ver, Text: blockText(b), Section: section, Confidence: ConfidenceHigh,
		Renames: renames, Requires: reqs, Stops: stops,
	}
	manual := sqlLines || (flagged || admin) && (shellOrSQL || manualRe.MatchString(plain))
	switch {
	case len(stops) > 0 || forbidden:
		w.Kind = KindRequiredStop
	case len(renames) > 0 && sec != secDeprecation:
		w.Kind = KindBreaking
	case len(reqs) > 0:
		w.Kind = KindRequirement
	case depr || sec == secDeprecation:
		w.Kind = KindDeprecation
	case manual || sec == secUpgrade && b.Ordered || admin:
		w.Kind = KindManualAction
	default:
		w.Kind = KindBreaking
	}
	if !flagged && !strong && !depr && !adminObjRe.MatchString(plain) {
		w.Confidence = ConfidenceLow
	}
	if text == "" {
		text = code
	}
	w.Headline = makeHeadline(b)
	if w.Text == "" {
		w.Text = text
	}
	return w, true
}
