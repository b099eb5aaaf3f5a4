{
  # The native backend: Node-API bindings (addon.cc) + a thread pool (portable code) and the
  # compute kernels (native/src/kernels.h's PIXELCNN_KERNELS) compiled three times, for x86-64
  # baseline, AVX2+FMA and AVX-512F, picked at load time (native/src/cpu.cc). Never
  # -march=native: the binary runs on any x86-64.
  "variables": {
    "kernel_sources": [
      "native/src/gemm.cc",
      "native/src/conv2d.cc",
      "native/src/softmax_xent.cc",
      "native/src/logistic_mixture.cc",
      "native/src/gate.cc",
      "native/src/elementwise.cc",
      "native/src/elu.cc",
      "native/src/dropout.cc",
      "native/src/sampler.cc"
    ],
    "common_cflags": ["-O3", "-fPIC", "-ffp-contract=fast", "-fno-math-errno", "-Wall", "-Wno-unused-function"]
  },
  "target_defaults": {
    "cflags_cc": ["-std=c++17"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
    },
    "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
  },
  "targets": [
    {
      "target_name": "pixelcnn_kernels_generic",
      "type": "static_library",
      "sources": ["<@(kernel_sources)"],
      "cflags": ["<@(common_cflags)"],
      "xcode_settings": { "OTHER_CFLAGS": ["<@(common_cflags)"] }
    },
    {
      "target_name": "pixelcnn_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/cpu.cc",
        "native/src/threadpool.cc"
      ],
      "cflags": ["<@(common_cflags)", "-pthread"],
      "ldflags": ["-pthread"],
      "dependencies": ["pixelcnn_kernels_generic"],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", {
          "dependencies": ["pixelcnn_kernels_avx2", "pixelcnn_kernels_avx512"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64' or target_arch=='ia32'", {
      "targets": [
        {
          "target_name": "pixelcnn_kernels_avx2",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["PIXELCNN_ISA_AVX2"],
          "cflags": ["<@(common_cflags)", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["<@(common_cflags)", "-mavx2", "-mfma"] }
        },
        {
          "target_name": "pixelcnn_kernels_avx512",
          "type": "static_library",
          "sources": ["<@(kernel_sources)"],
          "defines": ["PIXELCNN_ISA_AVX512"],
          "cflags": ["<@(common_cflags)", "-mavx512f", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["<@(common_cflags)", "-mavx512f", "-mavx2", "-mfma"] }
        }
      ]
    }]
  ]
}
