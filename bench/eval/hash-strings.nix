# hashString (sha256, md5) of 60,000 strings.
builtins.foldl' (a: i: a + builtins.stringLength (builtins.hashString "sha256" "value-${toString i}")
  + builtins.stringLength (builtins.hashString "md5" "v${toString i}")) 0 (builtins.genList (i: i) 60000)
