// The public API of rlhfd: Swift code generated from Protos/ by scripts/generate-protos.sh.
// Do not edit Generated/; edit the protos and regenerate.
