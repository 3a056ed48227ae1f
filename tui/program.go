package tui

import (
	"context"
	"io"

	tea "charm.land/bubbletea/v2"
)

// Run opens the explorer on cfg and blocks until the user quits. in and
// out are the terminal (nil: bubbletea's defaults, standard input and
// output).
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	m, err := New(cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	_, err = tea.NewProgram(m, opts...).Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
