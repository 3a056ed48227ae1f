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
	var (
		m    tea.Model
		done func()
		l    *loader
	)
	if cfg.Trace == nil && cfg.Load != nil {
		var err error
		if l, err = newLoader(cfg, builtinPanes()); err != nil {
			return err
		}
		m, done = l, l.Close
	} else {
		x, err := New(cfg)
		if err != nil {
			return err
		}
		m, done = x, x.Close
	}
	defer done()
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	_, err := tea.NewProgram(m, opts...).Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil && l != nil && l.err != nil {
		return l.err
	}
	// The live run's failure, once the screen is gone (Model.LiveFailure).
	var x *Model
	switch mm := m.(type) {
	case *Model:
		x = mm
	case *loader:
		x = mm.m
	}
	if err == nil && x != nil {
		err = x.LiveFailure()
	}
	return err
}
