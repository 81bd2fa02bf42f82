# A tiny test harness for nix-instantiate --eval --strict: a suite is an
# attrset of cases { actual; expected; }; the result is the closing line
# "N passed, 0 failed", or a throw listing each failed case with both values.
{
  # True when evaluating x (deeply) throws; tryEval catches `throw`/`assert`,
  # which is how the helpers report a bad declaration.
  throws = x: !(builtins.tryEval (builtins.deepSeq x x)).success;

  run =
    suite: cases:
    let
      names = builtins.attrNames cases;
      failed = builtins.filter (n: cases.${n}.actual != cases.${n}.expected) names;
      describe =
        n:
        "  ${n}:\n    expected ${builtins.toJSON cases.${n}.expected}\n    actual   ${
            builtins.toJSON cases.${n}.actual
          }";
      passed = builtins.length names - builtins.length failed;
    in
    if failed == [ ] then
      "${suite}: ${toString passed} passed, 0 failed"
    else
      throw "${suite}: ${toString passed} passed, ${toString (builtins.length failed)} failed\n${builtins.concatStringsSep "\n" (map describe failed)}";
}
