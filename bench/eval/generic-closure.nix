# genericClosure over 20,000 elements with string keys (each found again twice), the shape
# of the module system's collection of imports.
builtins.length (builtins.genericClosure {
  startSet = [ { key = "m0"; n = 0; } ];
  operator = x:
    if x.n >= 20000 then [ ]
    else [ { key = "m${toString (x.n + 1)}"; n = x.n + 1; } { key = "m${toString (x.n / 2)}"; n = x.n / 2; } ];
})
