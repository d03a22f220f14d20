package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the wizard reacts to, defined once and shown by
// bubbles/help.
type KeyMap struct {
	Up, Down, PageUp, PageDown key.Binding
	Enter, Back, Tab           key.Binding
	Yes, No, Ack               key.Binding
	Explain, Follow, Refresh   key.Binding
	Help, Quit, Cancel         key.Binding
}

// DefaultKeyMap returns the wizard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "f", "space"), key.WithHelp("pgdn", "page down")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Tab:      key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "switch pane")),
		Yes:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Ack:      key.NewBinding(key.WithKeys("y", "space", "x"), key.WithHelp("y", "acknowledge")),
		Explain:  key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "explain steps")),
		Follow:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end", "follow log")),
		Refresh:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "look again")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Cancel:   key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "cancel safely")),
	}
}

// screenKeys adapts the KeyMap to help.KeyMap for one screen.
type screenKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (k screenKeys) ShortHelp() []key.Binding  { return k.short }
func (k screenKeys) FullHelp() [][]key.Binding { return k.full }
