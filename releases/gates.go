package releases

// Word gates: cheap substring checks that must pass before the costly
// expressions run (most items of a changelog trigger none of them).

import (
	"slices"
	"strings"
	"unicode"
)

// mayWarnIndex holds every word a warning needs one of: the signal and
// marker words, the words of flagged headings and lead-ins, SQL and the
// admonition markers.
var mayWarnIndex = newWordIndex(triggerWords, markerWords, sqlWords, []string{
	"breaking", "incompatib", "deprecat", "remov", "requir", "prerequisit", "upgrad", "migrat", "action",
	"before you", "how to", "manual", "important", "attention", "warning", "caution", "danger", "please note",
	"notice", "heads", "read this", "read me", "impact", "!!", "[!", ":::", "{", "<", "..",
	"不兼容", "破坏", "弃用", "废弃", "移除", "要求", "升级", "迁移", "必读", "注意", "警告", "重要", "系统要求", "环境要求",
})

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
