{
  # Sources, defines and flags come from native/build.json, which
  # CMakeLists.txt reads too: one list for both builds.
  "targets": [
    {
      "target_name": "socketserver",
      "sources": [ "<!@(node -p \"require('./native/build.json').sources.join(' ')\")" ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")" ],
      "defines": [ "<!@(node -p \"require('./native/build.json').defines.join(' ')\")" ],
      "cflags!": [ "-fno-exceptions", "-O3" ],
      "cflags_cc!": [ "-fno-exceptions", "-O3" ],
      "cflags_cc": [ "<!@(node -p \"require('./native/build.json').cflags.join(' ')\")" ]
    }
  ]
}
