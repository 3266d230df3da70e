# Compiler settings shared by every embpf target.
include(GNUInstallDirs)

function(embpf_set_warnings target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            # g++ 12 at -O3 reports std::string concatenation (`"text" + std::string`) as overlapping memcpy
            # (GCC bug 105329); the warning has no true positives to lose in this code base.
            target_compile_options(${target} PRIVATE -Wno-restrict)
        endif()
        if(EMBPF_WERROR)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()

if(EMBPF_SANITIZE)
    add_compile_options(-fsanitize=${EMBPF_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${EMBPF_SANITIZE})
endif()

# Fuzz targets need the whole library instrumented for coverage; only they link libFuzzer's main.
if(EMBPF_BUILD_FUZZERS AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_compile_options(-fsanitize=fuzzer-no-link)
endif()
