# Compiling C to eBPF objects at build time with clang's BPF target.
# clang and the multiarch triple as embpf_add_plugin finds them (EmbpfPlugin.cmake, which a host's project gets too).
include(EmbpfPlugin)
set(EMBPF_BPF_CLANG ${EMBPF_PLUGIN_CLANG})
set(EMBPF_HOST_TRIPLE ${EMBPF_PLUGIN_TRIPLE})
find_program(EMBPF_LLVM_OBJCOPY NAMES llvm-objcopy-14 llvm-objcopy DOC "llvm-objcopy")
find_program(EMBPF_LLVM_OBJDUMP NAMES llvm-objdump-14 llvm-objdump DOC "llvm-objdump")

# embpf_add_bpf_object(<out-var> SOURCE <file.c> [OUTPUT <file.o>] [FLAGS ...] [DEPENDS ...] [NO_PLUGIN_HEADERS])
# Compiles SOURCE with `clang -target bpf -O2 -g` and sets <out-var> to the object's path. The
# plugin headers (include/embpf/plugin) are on the include path unless NO_PLUGIN_HEADERS is given,
# as for Linux programs built against libbpf's headers.
function(embpf_add_bpf_object out_var)
    cmake_parse_arguments(ARG "NO_PLUGIN_HEADERS" "SOURCE;OUTPUT" "FLAGS;DEPENDS" ${ARGN})
    if(NOT EMBPF_BPF_CLANG)
        message(FATAL_ERROR "clang is required to compile eBPF programs (apt-get install clang)")
    endif()
    get_filename_component(src "${ARG_SOURCE}" ABSOLUTE)
    if(ARG_OUTPUT)
        set(out "${ARG_OUTPUT}")
    else()
        get_filename_component(name "${src}" NAME_WE)
        set(out "${CMAKE_CURRENT_BINARY_DIR}/bpf/${name}.o")
    endif()
    get_filename_component(out_dir "${out}" DIRECTORY)
    set(plugin_include -I${PROJECT_SOURCE_DIR}/include/embpf/plugin)
    if(ARG_NO_PLUGIN_HEADERS)
        set(plugin_include)
    endif()
    add_custom_command(
        OUTPUT "${out}"
        COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
        COMMAND ${EMBPF_BPF_CLANG} -target bpf -O2 -g -Wall -Werror
                ${plugin_include} -I/usr/include/${EMBPF_HOST_TRIPLE}
                ${ARG_FLAGS} -c "${src}" -o "${out}"
        DEPENDS "${src}" ${ARG_DEPENDS}
        COMMENT "Compiling eBPF object ${out}"
        VERBATIM)
    set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
