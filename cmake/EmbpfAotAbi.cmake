# Ahead-of-time compilation (src/exec/aot/emit.cpp) writes aot_abi.h into every C file it generates: the header's text
# as a C++ string literal, written to DIR/aot_abi_text.inc, which emit.cpp includes. Configuring again follows the
# header's changes.
function(embpf_write_aot_abi_text root dir)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${root}/include/embpf/exec/aot_abi.h)
    file(READ ${root}/include/embpf/exec/aot_abi.h abi)
    file(CONFIGURE OUTPUT ${dir}/aot_abi_text.inc CONTENT "R\"embpf_abi(@abi@)embpf_abi\"\n" @ONLY)
endfunction()
