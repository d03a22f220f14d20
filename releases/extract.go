package releases

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
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

// mayWarnIndex holds every word a warning needs one of: the signal and
// marker words, the words of flagged headings and lead-ins, SQL and the
// admonition markers.
var mayWarnIndex = newWordIndex(triggerWords, markerWords, sqlWords, []string{
	"breaking", "incompatib", "deprecat", "remov", "requir", "prerequisit", "upgrad", "migrat", "action",
	"before you", "how to", "manual", "important", "attention", "warning", "caution", "danger", "please note",
	"notice", "heads", "read this", "read me", "impact", "!!", "[!", ":::", "{", "<", "..",
	"不兼容", "破坏", "弃用", "废弃", "移除", "要求", "升级", "迁移", "必读", "注意", "警告", "重要", "系统要求", "环境要求",
})

// ExtractAll extracts the warnings of every note, in note order.
func ExtractAll(notes []Note) []Warning {
	var out []Warning
	for _, n := range notes {
		out = append(out, Extract(n)...)
	}
	return out
}

// descends reports whether block j is nested (at any depth) in item i.
func descends(bs []Block, j, i int) bool {
	for p := bs[j].Parent; p >= 0; p = bs[p].Parent {
		if p == i {
			return true
		}
		if p >= j {
			return false
		}
	}
	return false
}

func sameSection(a, b Block) bool { return slices.Equal(a.Section, b.Section) }

// leadIn returns the class a block opens for the blocks after it.
func leadIn(bs []Block, i int) section {
	b := bs[i]
	if s := leadInSection(b.Plain); s != secNone {
		return s
	}
	// "- Upgrade notes" with sub-items acts like a heading.
	if b.Kind == BlockItem && i+1 < len(bs) && bs[i+1].Parent == i && runeLen(b.Plain) <= 40 && !strings.ContainsAny(b.Plain, ".。,，") {
		return classifyHeading(b.Plain)
	}
	return secNone
}

// introParagraph returns the paragraph ending in a colon that the list
// holding item i follows directly, or -1.
func introParagraph(bs []Block, i int) int {
	if bs[i].Kind != BlockItem || bs[i].Ordered {
		return -1
	}
	for j := i - 1; j >= 0; j-- {
		switch {
		case bs[j].Kind == BlockItem && bs[j].Depth >= bs[i].Depth && sameSection(bs[j], bs[i]):
			continue
		case bs[j].Kind == BlockParagraph && bs[j].Depth == bs[i].Depth-1 && bs[j].Parent == bs[i].Parent && sameSection(bs[j], bs[i]) &&
			(strings.HasSuffix(strings.TrimSpace(bs[j].Plain), ":") || strings.HasSuffix(strings.TrimSpace(bs[j].Plain), "：")):
			return j
		}
		return -1
	}
	return -1
}

// containerItem: an item ending in a colon whose sub-items carry the
// content.
func containerItem(bs []Block, i int) bool {
	b := bs[i]
	t := strings.TrimRight(strings.TrimSpace(b.Plain), "*_ ")
	return b.Kind == BlockItem && i+1 < len(bs) && bs[i+1].Parent == i && runeLen(t) <= 80 &&
		(strings.HasSuffix(t, ":") || strings.HasSuffix(t, "："))
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

// headingClass is the class of the nearest classified heading above b,
// looking at headings[from:] only.
func headingClass(b Block, from int) section {
	for i := len(b.headings) - 1; i >= from; i-- {
		if s := classifyHeading(b.headings[i].text); s != secNone {
			return s
		}
	}
	return secNone
}

func indentText(s string, depth int) string {
	pad := strings.Repeat("  ", max(depth-1, 0))
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	lines[0] = pad + "- " + strings.TrimLeft(lines[0], " ")
	return strings.Join(lines, "\n")
}

// blockText is the block's source text plus its code in a fence.
func blockText(b Block) string {
	text := strings.TrimSpace(b.Text)
	code := strings.TrimSpace(b.Code)
	if code == "" {
		return text
	}
	return strings.TrimSpace(text + "\n```" + b.Lang + "\n" + code + "\n```")
}

var (
	bumpRe        = regexp.MustCompile(`(?i)\b(?:bump(?:s|ed)?|chore|deps|dependabot|renovate|update (?:dependency|module)|upgrade (?:\S+ ){0,2}(?:to|from))\b`)
	attributionRe = regexp.MustCompile(`(?i)^\W*(?:(?:by|thanks(?: to)?|credits?|contributed by|reported by|authored by)\s*:?\s*(?:@[\w-]+[\s,&and]*)+(?:\(#?\d+\))?\W*$|(?:special |many |big )?thanks (?:to|go to)\b)`)
	// devItemRe: a commit-style item about tooling, tests or docs.
	devItemRe = regexp.MustCompile(`(?i)^\W{0,3}(?:\((?:pnpm|npm|yarn|vscode|ide|lint|linter|eslint|prettier|ci|cd|tests?|e2e|unit|deps|dev|devcontainer|build|docs?|storybook|typescript|renovate|github|actions|i18n|release|tooling|makefile|readme)\)|(?:ci|test|tests|build|docs|style)(?:\([^)]*\))?:|[a-z]+\((?:release|ci|cd|deps|dev|test|tests|build|docs|lint|actions|github|tooling|e2e|i18n)\):)`)
	fixItemRe = regexp.MustCompile(`(?i)^\W{0,3}(?:(?:fix(?:ed|es)?|bugfix|hotfix)\b|修复|修正)`)
	// cnRemovalRe: "移除情绪功能" (removed a feature or setting).
	cnRemovalRe = regexp.MustCompile(`^\W{0,3}(?:移除|删除|去除|下线)了?(?:[^，。；]{1,20}(?:功能|配置|设置|选项|容器|支持|模型|接口|参数)|[^，。；a-zA-Z]{2,12}$)`)
	cnAdminRe   = regexp.MustCompile(`(?:需要|必须|请)(?:重新|手动|手工)?(?:配置|设置|修改|迁移|备份|删除|下载)|需要重新`)
	// behaviourRe: wording of a change that breaks existing setups.
	behaviourRe     = regexp.MustCompile(`(?i)^\W{0,3}(?:disallow|block|deny|forbid|restrict)s?\b.{0,160}\b(?:by default|is (?:now |also )?configurable|unless)\b|\b(?:can|could|may) no longer be (?:used|set|configured|enabled|modified|changed|edited|disabled)\b|\bmust now (?:be|use|have|contain|match|include)\b|\b(?:is|are) no longer (?:supported|available|allowed|possible|accepted)\b|\bonly (?:\S+ ){1,4}(?:are|is) (?:now )?supported\b|\bno longer (?:reads?|honou?rs?|accepts?) (?:the )?\S+ (?:option|setting|variable|flag|parameter)`)
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

func appendNew[T comparable](dst []T, src ...T) []T {
	for _, x := range src {
		if !slices.Contains(dst, x) {
			dst = append(dst, x)
		}
	}
	return dst
}

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

// anyOf reports whether s contains one of words.
func anyOf(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Words that must be present before a family of expressions can match
// (lower case).
var (
	renameWords    = []string{"renam", "→", "->", "=>", "⇒", "replaced", "重命名", "更名", "改名", "改为", "remov", "drop", "delet", "unset", "移除", "删除"}
	stopWords      = []string{"upgrad", "updat", "migrat", "stop", "first", "before", "via", "through", "latest", "last", "升级", "更新"}
	forbiddenWords = []string{"should not", "must not", "do not", "avoid upgrading", "instead", "direct", "not supported", "cannot", "can't", "can not", "unable", "not possible", "skipping", "直接", "跨版本"}
	markerWords    = []string{"behavior change", "behaviour change", "⚠", "🚨", "❗", "‼", "breaking", "!!", "important", "attention", "warning", "caution", "heads", "incompatib", "compatible", "!:", "注意", "警告", "不兼容", "破坏", "升级前", "务必", "必须", "需要", "请先", "请手动", "手工", "直接升级"}
	behaviourWords = []string{"no longer", "only ", "must now", "by default", "configurable", "unless"}
	fixWords       = []string{"fix", "修复", "修正"}
	deprWords      = []string{"deprecat", "will be removed", "no longer", "support for", "弃用", "废弃", "不再支持"}
	adminWords     = []string{"to enable", "to keep", "to restore", "you", "need", "manual", "configuration change", "action", "requir", "must", "no longer", "migration", "drop", "column", "data ", "delete it", "remove it", "delete them", "remove them", "running"}
	cnAdminWords   = []string{"需要", "必须", "请"}
	sqlWords       = []string{"alter", "create", "drop", "update", "insert", "delete"}
	removalWords   = []string{"remov", "drop", "delet", "移除", "删除", "去除", "下线"}
	negationWords  = []string{"no ", "non", "not ", "revert", "nothing", "fix", "无需", "不需要", "无破坏"}
	nagWords       = []string{"upgrad", "updat", "security"}
	audienceWords  = []string{"develop", "plugin", "internal", "sdk", "author", "devs", "开发者"}
	triggerWords   = slices.Concat(renameWords, stopWords, forbiddenWords, behaviourWords, deprWords, adminWords, cnAdminWords, removalWords,
		[]string{"requir", "minimum", "at least", "default", "first", "最低", "至少"})
)

// depWordSet holds the dependency names of depNames, lower case, one word.
var depWordSet = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(strings.Trim(depNames, "()"), "|") {
		n = strings.ToLower(strings.ReplaceAll(n, `\.`, "."))
		m[strings.Fields(n)[0]] = true
	}
	return m
}()

// mentionsDep reports whether a lower-case text names a dependency.
func mentionsDep(lp string) bool {
	for _, w := range strings.FieldsFunc(lp, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '-'
	}) {
		if depWordSet[strings.TrimRight(w, ".")] {
			return true
		}
		// "php8.1", "node20", "v14+" glued to the name.
		if i := strings.IndexFunc(w, unicode.IsDigit); i > 0 && depWordSet[w[:i]] {
			return true
		}
	}
	return false
}

// wordIndex finds any of many words in a text in one pass.
type wordIndex struct {
	short    []string
	first    [256]bool
	byPrefix map[uint32][]string
}

func key4(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func newWordIndex(words ...[]string) *wordIndex {
	x := &wordIndex{byPrefix: map[uint32][]string{}}
	for _, ws := range words {
		for _, w := range ws {
			if len(w) < 4 {
				x.short = append(x.short, w)
				continue
			}
			x.first[w[0]] = true
			x.byPrefix[key4(w)] = append(x.byPrefix[key4(w)], w)
		}
	}
	return x
}

func (x *wordIndex) in(s string) bool {
	for _, w := range x.short {
		if strings.Contains(s, w) {
			return true
		}
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	for i := 0; i+4 <= len(s); i++ {
		if !x.first[s[i]] {
			continue
		}
		// In ASCII text the words start words (or are symbols).
		if ascii && i > 0 && isWordByte(s[i-1]) && isWordByte(s[i]) {
			continue
		}
		for _, w := range x.byPrefix[key4(s[i:])] {
			if strings.HasPrefix(s[i:], w) {
				return true
			}
		}
	}
	return false
}

var triggerIndex = newWordIndex(triggerWords, markerWords)

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

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
