// Package yamlpos reads YAML configuration files strictly and with
// positions: every value knows its file, line and dotted field path, so a
// bad value is reported as "FILE:LINE: field: reason" (the project's error
// shape). It wraps go.yaml.in/yaml/v3's node tree; schemas are written by
// the caller as explicit walks (Map with the known keys, then typed
// accessors), which also lets a field take one of several shapes (an
// integer or a mapping) as pydantic unions do.
//
// Choices: a file holds one YAML document; duplicate keys and unknown keys
// (where the caller lists the known ones) are errors; aliases are followed;
// merge keys ("<<") are not supported; numbers must be YAML numbers (a
// quoted "5" is a string), and an integer field takes a float without a
// fraction (600.0) as pydantic does. Error is also the positioned error of
// the JSON readers that want the same shape (analysis/measured). It
// imports no other kvscope package.
package yamlpos
