# Building plugins in a host's project: embpf_add_plugin, installed with embpf (find_package(embpf) includes it) and
# defined for projects that add embpf's source tree (add_subdirectory, FetchContent).
#
# embpf_add_plugin(<target> SOURCES <file.c>... [PLATFORM windows|linux|<platform.json>] [INCLUDES <dir>...]
#                  [FLAGS <clang flag>...] [SKELETON [SKELETON_ARGS <embpf gen skeleton argument>...]])
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
    cmake_parse_arguments(ARG "SKELETON" "PLATFORM" "SOURCES;INCLUDES;FLAGS;SKELETON_ARGS" ${ARGN})
    if(ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "embpf_add_plugin(${target}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
    endif()
    if(NOT ARG_SOURCES)
        message(FATAL_ERROR "embpf_add_plugin(${target}): SOURCES names no C file")
    endif()
    if(ARG_SKELETON_ARGS AND NOT ARG_SKELETON)
        message(FATAL_ERROR "embpf_add_plugin(${target}): SKELETON_ARGS without SKELETON")
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
endfunction()
