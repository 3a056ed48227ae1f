package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// tlsFlags configure https workers for `live` and `open --attach`: a private
// CA, a client certificate (mutual TLS), or, loudly, no verification.
type tlsFlags struct {
	caFile, certFile, keyFile string
	insecure                  bool
}

func (f *tlsFlags) add(fl *pflag.FlagSet, prefix string) {
	fl.StringVar(&f.caFile, "ca-file", "", prefix+"PEM file of CA certificates to trust for https workers (default: the system's)")
	fl.StringVar(&f.certFile, "client-cert", "", prefix+"PEM client certificate for https workers that ask for one (with --client-key)")
	fl.StringVar(&f.keyFile, "client-key", "", prefix+"PEM private key of --client-cert")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, prefix+"do not verify the workers' TLS certificates (unsafe: anyone on the path can read the traffic and the API key)")
}

// config builds the TLS configuration (nil: the system's defaults). With
// --insecure-skip-verify it warns on warn, whatever else is printed.
func (f *tlsFlags) config(warn io.Writer) (*tls.Config, error) {
	if f.caFile == "" && f.certFile == "" && f.keyFile == "" && !f.insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caFile != "" {
		b, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate", f.caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case (f.certFile == "") != (f.keyFile == ""):
		return nil, usagef("--client-cert and --client-key go together")
	case f.certFile != "":
		pair, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--client-cert %s / --client-key %s: %w", f.certFile, f.keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if f.insecure {
		cfg.InsecureSkipVerify = true
		fmt.Fprintln(warn, "kvscope: WARNING: --insecure-skip-verify: the workers' TLS certificates are NOT verified; "+
			"anyone on the network path can read and alter the traffic, the API key included")
	}
	return cfg, nil
}
