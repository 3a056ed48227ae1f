package rng

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestStreamNamesAreConstants: every call of rng.Stream in the module names
// its stream by one of this package's constants, never by a string of its
// own, so the list of streams above is complete and no two subsystems can
// share one by a typo.
func TestStreamNamesAreConstants(t *testing.T) {
	names := map[string]bool{}
	fset := token.NewFileSet()
	own, err := parser.ParseFile(fset, "rng.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range own.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, sp := range g.Specs {
				for _, n := range sp.(*ast.ValueSpec).Names {
					names[n.Name] = true
				}
			}
		}
	}
	root := filepath.Join("..", "..")
	calls := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || filepath.Dir(path) == "." {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 3 {
				return true
			}
			if fn, ok := call.Fun.(*ast.SelectorExpr); !ok || fn.Sel.Name != "Stream" || !isIdent(fn.X, "rng") {
				return true
			}
			calls++
			if arg, ok := call.Args[1].(*ast.SelectorExpr); !ok || !isIdent(arg.X, "rng") || !names[arg.Sel.Name] {
				t.Errorf("%s: rng.Stream's name is not one of rng's constants", fset.Position(call.Args[1].Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 3 {
		t.Fatalf("found %d calls of rng.Stream in the module; the walk missed the source", calls)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
