# Building plugins in a host's project: embpf_add_plugin, installed with embpf (find_package(embpf) includes it) and
# defined for projects that add embpf's source tree (add_subdirectory, FetchContent).
#
# embpf_add_plugin(<target> SOURCES <file.c>... [PLATFORM windows|linux|<platform.json>] [INCLUDES <dir>...]
#                  [FLAGS <clang flag>...] [SKELETON [SKELETON_ARGS <embpf gen skeleton argument>...]]
#                  [AOT [AOT_PREFIX <C identifier>]])
# Compiles each C source to an eBPF object with clang's BPF target (-O2 -g -mcpu=v3, the plugin headers and the
# multiarch include directory on the path) and verifies it at build time with `embpf verify`: a plugin that fails
# verification fails the build, the verifier's report in the build's output, and leaves no object behind. <target> is
# a custom target built by default; its property EMBPF_OBJECTS lists the objects
# (<build dir>/<target>/<source name>.o), for a host to load.
#
# With SKELETON, `embpf gen skeleton` (with the plugin's PLATFORM, and SKELETON_ARGS such as
# `--ring-record events=event`) writes a C++ header beside each verified object, <source name>.skel.hpp, with the
# object embedded and its maps, programs and globals typed in namespace <source name>. The interface library
# <target>::skeleton puts the headers on a C++ target's include path, links embpf::embpf and orders the generation
# before the target's compilation:
#
#     embpf_add_plugin(filters SOURCES count_bytes.c PLATFORM linux SKELETON)
#     target_link_libraries(host PRIVATE filters::skeleton)   # host.cpp: #include "count_bytes.skel.hpp"
#
# The plugin target's properties EMBPF_SKELETONS and EMBPF_SKELETON_DIR name the headers and their directory.
#
# With AOT (native mode), `embpf aot` (with the plugin's PLATFORM) also writes each verified object's programs out as C,
# ${CMAKE_CURRENT_BINARY_DIR}/<target>_aot.c, and the static library <target>::aot compiles it with the project's C
# compiler (the project must enable C). Its symbols start with AOT_PREFIX, by default the target's name made a C
# identifier: each program's function is <prefix>_<program>, and the object's embpf_aot_module is <prefix>_module.
# With several SOURCES each object gets its own file and module, <target>_<source name>_aot.c and
# <prefix>_<source name>_module. The header <target>_aot.h, on the include path of whatever links <target>::aot,
# declares the modules with C linkage. A host loads the object as usual and binds its programs to the compiled code,
# which runs only if the loader's verification gives the same code (its fingerprint):
#
#     embpf_add_plugin(filters SOURCES count_bytes.c PLATFORM linux AOT)
#     target_link_libraries(host PRIVATE filters::aot)   # host.cpp: #include "filters_aot.h"
#
#     auto object = embpf::Object::load(*spec, {.engine = embpf::exec::EngineKind::aot,
#                                               .aot_module = &filters_module});
#
# The plugin target's properties EMBPF_AOT_SOURCES, EMBPF_AOT_MODULES and EMBPF_AOT_HEADER name the C files, the
# modules' symbols and the header.
include_guard(GLOBAL)

find_program(EMBPF_PLUGIN_CLANG NAMES clang-14 clang DOC "clang with the BPF target, for embpf_add_plugin")
# The multiarch include directory (asm/types.h) is named by Debian's triple, which clang's -dumpmachine does not
# print; CMake knows it as the library architecture.
# Cached, so that a project calling embpf_add_plugin from another directory than the one that included this sees it.
if(NOT EMBPF_PLUGIN_TRIPLE)
    if(CMAKE_LIBRARY_ARCHITECTURE)
        set(triple ${CMAKE_LIBRARY_ARCHITECTURE})
    else()
        execute_process(COMMAND gcc -dumpmachine OUTPUT_VARIABLE triple OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
    set(EMBPF_PLUGIN_TRIPLE "${triple}" CACHE STRING "The multiarch triple of /usr/include/<triple> for plugins")
    unset(triple)
endif()

function(embpf_add_plugin target)
    cmake_parse_arguments(ARG "SKELETON;AOT" "PLATFORM;AOT_PREFIX" "SOURCES;INCLUDES;FLAGS;SKELETON_ARGS" ${ARGN})
    if(ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "embpf_add_plugin(${target}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
    endif()
    if(NOT ARG_SOURCES)
        message(FATAL_ERROR "embpf_add_plugin(${target}): SOURCES names no C file")
    endif()
    if(ARG_SKELETON_ARGS AND NOT ARG_SKELETON)
        message(FATAL_ERROR "embpf_add_plugin(${target}): SKELETON_ARGS without SKELETON")
    endif()
    if(ARG_AOT_PREFIX AND NOT ARG_AOT)
        message(FATAL_ERROR "embpf_add_plugin(${target}): AOT_PREFIX without AOT")
    endif()
    if(ARG_AOT)
        # The generated C is compiled by the project's C compiler: enable_language cannot be called from a function.
        if(NOT CMAKE_C_COMPILER_LOADED)
            message(FATAL_ERROR "embpf_add_plugin(${target}): AOT compiles C; enable the C language in the project "
                                "(project(... LANGUAGES C CXX) or enable_language(C))")
        endif()
        if(ARG_AOT_PREFIX)
            set(aot_prefix "${ARG_AOT_PREFIX}")
        else()
            string(MAKE_C_IDENTIFIER "${target}" aot_prefix)
        endif()
        if(NOT aot_prefix MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
            message(FATAL_ERROR "embpf_add_plugin(${target}): AOT_PREFIX ${aot_prefix} is not a C identifier")
        endif()
        list(LENGTH ARG_SOURCES source_count)
    endif()
    if(NOT EMBPF_PLUGIN_CLANG)
        message(FATAL_ERROR "embpf_add_plugin(${target}): clang is required to compile plugins (apt-get install clang)")
    endif()
    # The embpf tool that verifies: embpf's own target in its source tree, the installed one otherwise.
    if(TARGET embpf_cli)
        set(cli embpf_cli)
    elseif(TARGET embpf::cli)
        set(cli embpf::cli)
    else()
        message(FATAL_ERROR "embpf_add_plugin(${target}): no embpf tool to verify with (build embpf with "
                            "EMBPF_BUILD_TOOLS=ON)")
    endif()
    set(platform_args)
    set(platform_depends)
    if(ARG_PLATFORM)
        if(ARG_PLATFORM STREQUAL "windows" OR ARG_PLATFORM STREQUAL "linux")
            set(platform_args --platform ${ARG_PLATFORM})
        else()
            get_filename_component(platform_file "${ARG_PLATFORM}" ABSOLUTE)
            if(NOT EXISTS "${platform_file}")
                message(FATAL_ERROR "embpf_add_plugin(${target}): PLATFORM ${ARG_PLATFORM} is neither windows, linux "
                                    "nor a platform's JSON file")
            endif()
            set(platform_args --platform ${platform_file})
            set(platform_depends ${platform_file})
        endif()
    endif()
    set(includes)
    foreach(dir IN LISTS ARG_INCLUDES)
        get_filename_component(dir "${dir}" ABSOLUTE)
        list(APPEND includes -I${dir})
    endforeach()
    if(TARGET embpf_plugin_headers)
        set(headers "$<TARGET_PROPERTY:embpf_plugin_headers,INTERFACE_INCLUDE_DIRECTORIES>")
    else()
        set(headers "$<TARGET_PROPERTY:embpf::plugin_headers,INTERFACE_INCLUDE_DIRECTORIES>")
    endif()
    set(objects)
    set(skeletons)
    set(aot_sources)
    set(aot_modules)
    set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}")
    foreach(source IN LISTS ARG_SOURCES)
        get_filename_component(src "${source}" ABSOLUTE)
        get_filename_component(name "${src}" NAME_WE)
        set(object "${dir}/${name}.o")
        # Compiled beside its place and moved there once verified: a rejected plugin leaves no object a later build
        # would take for done.
        add_custom_command(
            OUTPUT "${object}"
            COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
            COMMAND ${EMBPF_PLUGIN_CLANG} -target bpf -mcpu=v3 -O2 -g -Wall "-I$<JOIN:${headers},;-I>"
                    -I/usr/include/${EMBPF_PLUGIN_TRIPLE} ${includes} ${ARG_FLAGS} -c "${src}" -o "${object}.unverified"
            COMMAND ${cli} verify ${platform_args} "${object}.unverified"
            COMMAND ${CMAKE_COMMAND} -E rename "${object}.unverified" "${object}"
            DEPENDS "${src}" ${cli} ${platform_depends}
            COMMENT "Building and verifying eBPF plugin ${name}.o"
            COMMAND_EXPAND_LISTS VERBATIM)
        list(APPEND objects "${object}")
        if(ARG_SKELETON)
            set(skeleton "${dir}/${name}.skel.hpp")
            add_custom_command(
                OUTPUT "${skeleton}"
                COMMAND ${cli} gen skeleton ${platform_args} ${ARG_SKELETON_ARGS} "${object}" -o "${skeleton}"
                DEPENDS "${object}" ${cli} ${platform_depends}
                COMMENT "Generating the C++ skeleton ${name}.skel.hpp"
                VERBATIM)
            list(APPEND skeletons "${skeleton}")
        endif()
        if(ARG_AOT)
            if(source_count EQUAL 1)
                set(aot_source "${CMAKE_CURRENT_BINARY_DIR}/${target}_aot.c")
                set(prefix "${aot_prefix}")
            else()
                string(MAKE_C_IDENTIFIER "${name}" c_name)
                set(aot_source "${CMAKE_CURRENT_BINARY_DIR}/${target}_${name}_aot.c")
                set(prefix "${aot_prefix}_${c_name}")
            endif()
            add_custom_command(
                OUTPUT "${aot_source}"
                COMMAND ${cli} aot ${platform_args} --prefix ${prefix} "${object}" -o "${aot_source}"
                DEPENDS "${object}" ${cli} ${platform_depends}
                COMMENT "Compiling eBPF plugin ${name}.o ahead of time to C"
                VERBATIM)
            list(APPEND aot_sources "${aot_source}")
            list(APPEND aot_modules "${prefix}_module")
        endif()
    endforeach()
    add_custom_target(${target} ALL DEPENDS ${objects} ${skeletons})
    set_target_properties(${target} PROPERTIES EMBPF_OBJECTS "${objects}")
    if(ARG_SKELETON)
        set_target_properties(${target} PROPERTIES EMBPF_SKELETONS "${skeletons}" EMBPF_SKELETON_DIR "${dir}")
        # A target that links the interface library builds after the headers exist: an interface library's
        # dependencies are followed by the targets that link it.
        add_library(${target}_skeleton INTERFACE)
        add_library(${target}::skeleton ALIAS ${target}_skeleton)
        target_include_directories(${target}_skeleton INTERFACE "${dir}")
        target_link_libraries(${target}_skeleton INTERFACE embpf::embpf)
        target_compile_features(${target}_skeleton INTERFACE cxx_std_20)
        add_dependencies(${target}_skeleton ${target})
    endif()
    if(ARG_AOT)
        # The header declaring the modules, written at configure time (it names symbols only).
        set(aot_header "${dir}/${target}_aot.h")
        string(MAKE_C_IDENTIFIER "EMBPF_${target}_AOT_H" guard)
        string(TOUPPER "${guard}" guard)
        set(declarations "")
        foreach(module IN LISTS aot_modules)
            string(APPEND declarations "extern const struct embpf_aot_module ${module};\n")
        endforeach()
        file(MAKE_DIRECTORY "${dir}")
        file(CONFIGURE OUTPUT "${aot_header}" CONTENT
"/* Generated by embpf_add_plugin(${target} ... AOT): the plugin's programs compiled ahead of time (${target}::aot).
 * Load the object with LoadOptions{.engine = embpf::exec::EngineKind::aot, .aot_module = &<module>}. */
#ifndef ${guard}
#define ${guard}

#include \"embpf/exec/aot_abi.h\"

#ifdef __cplusplus
extern \"C\" {
#endif

${declarations}
#ifdef __cplusplus
}
#endif

#endif /* ${guard} */
" @ONLY)
        add_library(${target}_aot STATIC ${aot_sources})
        add_library(${target}::aot ALIAS ${target}_aot)
        set_target_properties(${target}_aot PROPERTIES POSITION_INDEPENDENT_CODE ON)
        target_include_directories(${target}_aot PUBLIC "${dir}")
        target_link_libraries(${target}_aot PUBLIC embpf::embpf)
        # The object is built (and verified) by the plugin's target alone, before the C is generated from it.
        add_dependencies(${target}_aot ${target})
        set_target_properties(${target} PROPERTIES EMBPF_AOT_SOURCES "${aot_sources}" EMBPF_AOT_MODULES
                                                   "${aot_modules}" EMBPF_AOT_HEADER "${aot_header}")
    endif()
endfunction()
