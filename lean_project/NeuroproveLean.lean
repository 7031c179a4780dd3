/-
Building this module checks that Mathlib's compiled files are in place: `prove setup` runs
`lake build`, and a proof search imports the same `Mathlib` through the REPL.
-/
import Mathlib
