# node-gyp build of the CPU addon. Every source, define and flag comes from native/sources.json
# (through scripts/manifest.js); CMakeLists.txt reads the same manifest. Each ISA's files build
# as their own static library so only they get that ISA's flags (chosen at load time).
{
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node scripts/manifest.js include_dirs)"
    ],
    "defines": ["<!@(node scripts/manifest.js defines)"],
    "cflags_cc": ["<!@(node scripts/manifest.js cflags)"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20", "-O2"]
  },
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kiln_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/manifest.js arch-sources x64 avx2)"],
          "cflags_cc": ["<!@(node scripts/manifest.js arch-cflags x64 avx2)"]
        },
        {
          "target_name": "kiln_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/manifest.js arch-sources x64 avx512)"],
          "cflags_cc": ["<!@(node scripts/manifest.js arch-cflags x64 avx512)"]
        },
        {
          "target_name": "kiln_avx512bf16",
          "type": "static_library",
          "sources": ["<!@(node scripts/manifest.js arch-sources x64 avx512bf16)"],
          "cflags_cc": ["<!@(node scripts/manifest.js arch-cflags x64 avx512bf16)"]
        },
        {
          "target_name": "kiln",
          "sources": ["<!@(node scripts/manifest.js sources)"],
          "libraries": ["<!@(node scripts/manifest.js libraries)"],
          "dependencies": ["kiln_avx2", "kiln_avx512", "kiln_avx512bf16"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "kiln",
          "sources": ["<!@(node scripts/manifest.js sources)", "<!@(node scripts/manifest.js arch-sources arm64 neon)"],
          "libraries": ["<!@(node scripts/manifest.js libraries)"]
        }
      ]
    }]
  ]
}
