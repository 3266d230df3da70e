# The command-line tools, run as a user would. Objects come from the seed and loader test builds.
if(NOT TARGET embpf_cli)
    return()
endif()
set(seeds ${EMBPF_TEST_SEEDS_DIR})
add_test(NAME cli_sections_windows COMMAND embpf_cli sections ${seeds}/TraceConnections.o)
set_tests_properties(cli_sections_windows PROPERTIES PASS_REGULAR_EXPRESSION
    "Platform: windows.*bind +TraceConnections +bind +46 +proc_map +map_lookup_elem, map_update_elem, memcpy_s.*proc_map +hash +4 +40 +1024")
add_test(NAME cli_sections_json COMMAND embpf_cli sections ${seeds}/myxdp_stage4.o --json)
set_tests_properties(cli_sections_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"name\": \"xdp_map\",[ \n]+\"type\": \"ringbuf\",[ \n]+\"type_id\": 13")
add_test(NAME cli_sections_linux COMMAND embpf_cli sections ${EMBPF_TEST_ELF_DIR}/libbpf_style.o --platform linux)
set_tests_properties(cli_sections_linux PROPERTIES PASS_REGULAR_EXPRESSION
    "xdp +xdp_count +xdp +80 +counts, stats_map, .bss, .rodata, .data +map_lookup_elem, map_update_elem, trace_printk")
# A file that does not load prints the loader's error and exits 1.
add_test(NAME cli_sections_bad_file COMMAND embpf_cli sections ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(cli_sections_bad_file PROPERTIES WILL_FAIL ON)
add_test(NAME cli_sections_bad_file_message COMMAND embpf_cli sections ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(cli_sections_bad_file_message PROPERTIES PASS_REGULAR_EXPRESSION "not an ELF file")
add_test(NAME cli_asm_disasm COMMAND embpf_cli asm --hex ${CMAKE_CURRENT_LIST_DIR}/sample.s)
set_tests_properties(cli_asm_disasm PROPERTIES PASS_REGULAR_EXPRESSION "00000002000000b7.0000000000000095")

# embpf disasm on an object: programs as the verifier numbers them, maps, globals, helpers and subprograms by name, the
# C source (BTF line info) with -S, JSON, and the raw-bytes listing refusing the object-only options.
add_test(NAME cli_disasm_object_source COMMAND embpf_cli disasm -S ${seeds}/TraceConnections.o)
set_tests_properties(cli_disasm_object_source PROPERTIES PASS_REGULAR_EXPRESSION
    "Disassembly of program TraceConnections \\(section bind, type bind\\):.*; [ \t]*if \\(ctx->operation == BIND_OPERATION_BIND\\) {\n +1:[ \t]r1 = \\*\\(u32 \\*\\)\\(r6 \\+ 44\\).*\n +13:[ \t]r1 = map\\[proc_map\\] ll\n +15:[ \t]call map_lookup_elem#1\n")
add_test(NAME cli_disasm_object_functions_json COMMAND embpf_cli disasm ${EMBPF_TEST_API_DIR}/callbacks.o
         --program loop_squares --json)
set_tests_properties(cli_disasm_object_functions_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"name\": \"add_square\",[ \n]+\"start\": 26.*\"text\": \"r2 = code\\(\\+13\\) ll <add_square>\".*\"text\": \"call loop#181\"")
add_test(NAME cli_disasm_object_globals COMMAND embpf_cli disasm ${EMBPF_TEST_API_DIR}/typed_maps.o)
set_tests_properties(cli_disasm_object_globals PROPERTIES PASS_REGULAR_EXPRESSION
    "r1 = map\\[per_interface\\] ll.*r2 = &seq ll")
add_test(NAME cli_disasm_object_kconfig COMMAND embpf_cli disasm ${EMBPF_TEST_API_DIR}/kconfig.o --section socket)
set_tests_properties(cli_disasm_object_kconfig PROPERTIES PASS_REGULAR_EXPRESSION "r1 = &LINUX_HAS_BPF_COOKIE ll")
add_test(NAME cli_disasm_object_unknown_program COMMAND embpf_cli disasm ${seeds}/TraceConnections.o --program nope)
set_tests_properties(cli_disasm_object_unknown_program PROPERTIES WILL_FAIL ON)
add_test(NAME cli_disasm_object_unknown_program_message COMMAND embpf_cli disasm ${seeds}/TraceConnections.o
         --program nope)
set_tests_properties(cli_disasm_object_unknown_program_message PROPERTIES PASS_REGULAR_EXPRESSION
    "no program named nope; the object has TraceConnections \\(bind\\)")
add_test(NAME cli_disasm_raw_object_option COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=2
         -P ${CMAKE_CURRENT_LIST_DIR}/scripts/expect_exit.cmake $<TARGET_FILE:embpf_cli> disasm --raw -S
         ${seeds}/TraceConnections.o)
set_tests_properties(cli_disasm_raw_object_option PROPERTIES PASS_REGULAR_EXPRESSION
    "list an object file's programs; this is read as raw instruction bytes \\(--raw\\)" FAIL_REGULAR_EXPRESSION
    "unexpected exit status")

# embpf run: a UDP packet through the five-tuple parser leaves one ring-buffer record.
set(udp_packet "000000000000111111111111080045000000000000000011 0000 c0a80114 0a000035 cec80035 00000000")
add_test(NAME cli_run_xdp COMMAND embpf_cli run ${seeds}/myxdp_stage4.o --data-hex ${udp_packet} --repeat 3)
set_tests_properties(cli_run_xdp PROPERTIES PASS_REGULAR_EXPRESSION
    "r0 = 1 .*median .* ns per run over 3 run.*xdp_map \\(ringbuf\\): 3 record.*c0a801140a000035cec8003511000000")
# A bind event: process 42 (context offset 16), operation BIND (offset 44), app id as the data range.
add_test(NAME cli_run_bind_json COMMAND embpf_cli run ${seeds}/TraceConnections.o --json --data-hex 6e67696e782e657865
         --ctx-hex "0000000000000000 0000000000000000 2a00000000000000")
set_tests_properties(cli_run_bind_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"r0\": 0,.*\"name\": \"proc_map\".*\"key\": \"2a000000\",[ \n]+\"value\": \"2a0000006e67696e782e657865")
# Automatic tiering: the same result, and where the promotion stands after the runs (compiling or done in builds with
# LLVM, failed without). The process exits right after the second run asked for the compilation, most often while it
# runs: the exit waits for it and succeeds. A budget keeps the program in the baseline JIT, which it says.
add_test(NAME cli_run_automatic COMMAND embpf_cli run ${seeds}/myxdp_stage4.o --data-hex ${udp_packet} --repeat 3
         --engine automatic --promote-after 2)
set_tests_properties(cli_run_automatic PROPERTIES PASS_REGULAR_EXPRESSION
    "r0 = 1 .*engine [a-z]+ after 3 run\\(s\\) \\(automatic\\; promotion: (compiling|promoted|failed)\\)")
# A budget is metered in both tiers and does not keep the program from promotion.
add_test(NAME cli_run_automatic_budget COMMAND embpf_cli run ${seeds}/myxdp_stage4.o --data-hex ${udp_packet}
         --repeat 3 --engine automatic --promote-after 2 --instruction-budget 100000)
set_tests_properties(cli_run_automatic_budget PROPERTIES PASS_REGULAR_EXPRESSION
    "r0 = 1 .*engine [a-z]+ after 3 run\\(s\\) \\(automatic\\; promotion: (compiling|promoted)\\).*instruction budget 100000: stopped 0 of 3")
add_test(NAME cli_run_unknown_program COMMAND embpf_cli run ${seeds}/TraceConnections.o --program nope)
set_tests_properties(cli_run_unknown_program PROPERTIES WILL_FAIL ON)
# r0 by the type's return meaning; an array's entries of zeros hidden unless --all.
add_test(NAME cli_run_return_meaning COMMAND embpf_cli run ${seeds}/TraceConnections.o --data-hex 6e67696e78
         --ctx-hex "0000000000000000 0000000000000000 2a00000000000000")
set_tests_properties(cli_run_return_meaning PROPERTIES PASS_REGULAR_EXPRESSION "r0 = 0 \\(0x0, BIND_PERMIT\\)")
add_test(NAME cli_run_zero_entries COMMAND embpf_cli run ${EMBPF_TEST_API_DIR}/arrays.o --ctx-hex 03000000)
set_tests_properties(cli_run_zero_entries PROPERTIES PASS_REGULAR_EXPRESSION
    "map slots \\(array\\): 1 entry\n  03000000 => 0100000000000000\n  \\(7 entries of zeros not shown: --all shows them\\)")
add_test(NAME cli_run_all_entries COMMAND embpf_cli run ${EMBPF_TEST_API_DIR}/arrays.o --ctx-hex 03000000 --all)
set_tests_properties(cli_run_all_entries PROPERTIES PASS_REGULAR_EXPRESSION
    "map slots \\(array\\): 8 entries\n  00000000 => 0000000000000000\n")
add_test(NAME cli_run_all_entries_json COMMAND embpf_cli run ${EMBPF_TEST_API_DIR}/arrays.o --ctx-hex 03000000 --json)
set_tests_properties(cli_run_all_entries_json PROPERTIES PASS_REGULAR_EXPRESSION "\"zero_entries\": 7")
# --program loads that program and the programs its program arrays are initialized with, not the object's others: a
# program that fails verification (write_in) does not keep write_xmit from running; dispatch keeps write_cb, which its
# array names (and which the array refuses, as a load of the whole object does); fits keeps neither.
add_test(NAME cli_run_program_alone COMMAND embpf_cli run ${EMBPF_TEST_API_DIR}/read_only_packet.o --program write_xmit
         --data-hex 00112233)
set_tests_properties(cli_run_program_alone PROPERTIES PASS_REGULAR_EXPRESSION "r0 = 0 \\(0x0, BPF_OK\\)")
add_test(NAME cli_run_program_needs COMMAND embpf_cli run ${EMBPF_TEST_TAIL_DIR}/mixed_types_init.o --program dispatch
         --data-hex 00)
set_tests_properties(cli_run_program_needs PROPERTIES PASS_REGULAR_EXPRESSION
    "map jump entry 0: map jump serves xdp programs\\; a socket_filter program cannot share it")
add_test(NAME cli_run_program_unneeded COMMAND embpf_cli run ${EMBPF_TEST_TAIL_DIR}/mixed_types_init.o --program fits
         --data-hex 00)
set_tests_properties(cli_run_program_unneeded PROPERTIES PASS_REGULAR_EXPRESSION "r0 = 2 \\(0x2, XDP_PASS\\)")

# embpf verify: statuses 0 (all verified), 1 (a program rejected) and 2 (the file or an option is bad) are checked
# exactly, since WILL_FAIL cannot tell 1 from 2.
function(embpf_verify_test name status)
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=${status}
             -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/scripts/expect_exit.cmake $<TARGET_FILE:embpf_cli> verify ${ARGN})
    set_tests_properties(${name} PROPERTIES FAIL_REGULAR_EXPRESSION "unexpected exit status")
endfunction()
set(verified "^Verification succeeded\nProgram terminates within [0-9]+ instructions\n")
embpf_verify_test(cli_verify_xdp 0 ${seeds}/myxdp_stage4.o)
set_tests_properties(cli_verify_xdp PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
embpf_verify_test(cli_verify_bind 0 ${seeds}/TraceConnections.o)
set_tests_properties(cli_verify_bind PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
# A `.kconfig` extern bounds an index: verify reads the platform's CONFIG_HZ (250), as a load does, not zero.
embpf_verify_test(cli_verify_kconfig 0 ${EMBPF_TEST_API_DIR}/kconfig.o --platform linux --program index_by_hz)
set_tests_properties(cli_verify_kconfig PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
# The seed's unchecked read of the EtherType, reported at its source line. `\\;` keeps the `;` from splitting the
# property into a list of expressions, any one of which would pass.
embpf_verify_test(cli_verify_rejected 1 ${seeds}/myxdp_stage2.o)
set_tests_properties(cli_verify_rejected PROPERTIES PASS_REGULAR_EXPRESSION
    "Verification failed.*\\; .*myxdp_stage2.c:16.*5: Upper bound must be at most packet_size \\(valid_access\\(r1.offset\\+12, width=2\\)\\).*1 errors")
embpf_verify_test(cli_verify_rejected_json 1 ${seeds}/myxdp_stage2.o --json)
set_tests_properties(cli_verify_rejected_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"file\": .*\"platform\": .*\"programs\": \\[.*\"program\": \"packet_parse\",.*\"verdict\": \"rejected\"")
embpf_verify_test(cli_verify_informational 0 ${seeds}/myxdp_stage4.o --level informational)
set_tests_properties(cli_verify_informational PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
embpf_verify_test(cli_verify_verbose 0 ${seeds}/TraceConnections.o --level verbose)
set_tests_properties(cli_verify_verbose PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
embpf_verify_test(cli_verify_bad_file 2 ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(cli_verify_bad_file PROPERTIES PASS_REGULAR_EXPRESSION "not an ELF file")
embpf_verify_test(cli_verify_unknown_program 2 ${seeds}/TraceConnections.o --program nope)
set_tests_properties(cli_verify_unknown_program PROPERTIES PASS_REGULAR_EXPRESSION "has no program named nope")
embpf_verify_test(cli_verify_unknown_section 2 ${seeds}/TraceConnections.o --section xdp)
embpf_verify_test(cli_verify_unknown_type 2 ${seeds}/TraceConnections.o --type nope)
set_tests_properties(cli_verify_unknown_type PROPERTIES PASS_REGULAR_EXPRESSION "platform windows has no program type nope")
embpf_verify_test(cli_verify_unknown_platform 2 ${seeds}/TraceConnections.o --platform macos)
# A program the build cannot run is reported as rejected, and the others of the file are still verified.
embpf_verify_test(cli_verify_unsupported 1 ${EMBPF_TEST_ELF_DIR}/kfunc.o)
set_tests_properties(cli_verify_unsupported PROPERTIES PASS_REGULAR_EXPRESSION
    "^Program uses_kfunc \\(section xdp, type xdp\\):\nVerification failed\n.*kfuncs\\) and externs are not supported\n1 errors\n\nProgram plain \\(section xdp, type xdp\\):\nVerification succeeded\n")
embpf_verify_test(cli_verify_as_type 0 ${EMBPF_TEST_ELF_DIR}/multi_program.o --program first --type sched_cls --json)
set_tests_properties(cli_verify_as_type PROPERTIES PASS_REGULAR_EXPRESSION
    "\"program\": \"first\",[ \n]+\"section\": \"xdp\",[ \n]+\"type\": \"sched_cls\",[ \n]+\"verdict\": \"verified\"")
# Linux has no bind hook: without --type the program has no type to be verified as.
embpf_verify_test(cli_verify_no_type 1 ${seeds}/TraceConnections.o --platform linux)
set_tests_properties(cli_verify_no_type PROPERTIES PASS_REGULAR_EXPRESSION
    "0: no program type of platform linux matches section bind \\(choose one with --type or --default-type\\)\n1 errors")
# --default-type types the programs whose section names none, as tc gives its object's "2/1" the classifier type.
embpf_verify_test(cli_verify_default_type 0 ${EMBPF_TEST_ELF_DIR}/legacy_iproute2.o --default-type sched_cls --json)
set_tests_properties(cli_verify_default_type PROPERTIES PASS_REGULAR_EXPRESSION
    "\"section\": \"2/1\",[ \n]+\"type\": \"sched_cls\",[ \n]+\"verdict\": \"verified\"")
embpf_verify_test(cli_verify_default_type_unknown 2 ${EMBPF_TEST_ELF_DIR}/legacy_iproute2.o --default-type nope)
set_tests_properties(cli_verify_default_type_unknown PROPERTIES PASS_REGULAR_EXPRESSION
    "platform linux has no program type nope")
# Paths that are no object file: a directory is refused by name, not read (reading one throws in the C++ library).
embpf_verify_test(cli_verify_directory 2 ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(cli_verify_directory PROPERTIES PASS_REGULAR_EXPRESSION "is a directory, not an object file")
add_test(NAME cli_run_data_directory COMMAND embpf_cli run ${seeds}/myxdp_stage4.o --data ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(cli_run_data_directory PROPERTIES PASS_REGULAR_EXPRESSION "is a directory")
add_test(NAME cli_run_ctx_not_hex COMMAND embpf_cli run ${seeds}/myxdp_stage4.o --ctx-hex 0g)
set_tests_properties(cli_run_ctx_not_hex PROPERTIES PASS_REGULAR_EXPRESSION "--ctx-hex is not a sequence of hex bytes")

# A host's platform as JSON (platform/request_host.json: windows() and a request hook with a host helper). At build
# time `embpf gen helpers` writes the header its plugin (platform/request_plugin.c) compiles against; sections, verify
# and disasm read the platform with --platform; without it no type matches the plugin's section.
set(request_host ${CMAKE_CURRENT_LIST_DIR}/platform/request_host.json)
set(request_dir ${CMAKE_CURRENT_BINARY_DIR}/request_plugin)
add_custom_command(OUTPUT ${request_dir}/request_helpers.h
                   COMMAND ${CMAKE_COMMAND} -E make_directory ${request_dir}
                   COMMAND embpf_cli gen helpers --platform ${request_host} --type request --host-only
                           -o ${request_dir}/request_helpers.h
                   DEPENDS embpf_cli ${request_host} COMMENT "Generating the request hook's plugin header" VERBATIM)
embpf_add_bpf_object(request_plugin_object SOURCE ${CMAKE_CURRENT_LIST_DIR}/platform/request_plugin.c
                     OUTPUT ${request_dir}/request_plugin.o NO_PLUGIN_HEADERS FLAGS -I${request_dir}
                     DEPENDS ${request_dir}/request_helpers.h)
add_custom_target(embpf_test_request_plugin ALL DEPENDS ${request_plugin_object})
# The libbpf-compatible API's tests load it for the platform the JSON describes (tests/compat/test_libbpf.cpp).
add_dependencies(embpf_tests embpf_test_request_plugin)
target_compile_definitions(embpf_tests PRIVATE EMBPF_TEST_REQUEST_HOST="${request_host}"
                                               EMBPF_TEST_REQUEST_PLUGIN="${request_plugin_object}")
add_test(NAME cli_platform_json_verify COMMAND embpf_cli verify --platform ${request_host} ${request_plugin_object})
set_tests_properties(cli_platform_json_verify PROPERTIES PASS_REGULAR_EXPRESSION "${verified}")
add_test(NAME cli_platform_json_sections COMMAND embpf_cli sections --platform ${request_host} ${request_plugin_object})
set_tests_properties(cli_platform_json_sections PROPERTIES PASS_REGULAR_EXPRESSION
    "Platform: request_host \\(chosen by the caller\\).*request +count_slashes +request +[0-9]+ +log_request")
add_test(NAME cli_platform_json_disasm COMMAND embpf_cli disasm --platform ${request_host} ${request_plugin_object})
set_tests_properties(cli_platform_json_disasm PROPERTIES PASS_REGULAR_EXPRESSION "call log_request#65536")
embpf_verify_test(cli_platform_json_needed 1 ${request_plugin_object})
set_tests_properties(cli_platform_json_needed PROPERTIES PASS_REGULAR_EXPRESSION
    "no program type of platform linux matches section request")
embpf_verify_test(cli_platform_json_bad 2 --platform ${CMAKE_CURRENT_LIST_DIR}/platform/bad_kind.json
                  ${request_plugin_object})
set_tests_properties(cli_platform_json_bad PROPERTIES PASS_REGULAR_EXPRESSION
    "program_types\\[0\\]\\.context\\.fields\\[0\\]\\.kind: unknown field kind \"ptr\"")
# gen platform writes what --platform reads back.
add_test(NAME cli_gen_platform_round_trip
         COMMAND sh -c "\"$0\" gen platform --platform windows -o \"$1\" && \"$0\" sections --platform \"$1\" \"$2\""
                 $<TARGET_FILE:embpf_cli> ${CMAKE_CURRENT_BINARY_DIR}/windows_platform.json
                 ${seeds}/TraceConnections.o)
set_tests_properties(cli_gen_platform_round_trip PROPERTIES PASS_REGULAR_EXPRESSION
    "Platform: windows \\(chosen by the caller\\).*bind +TraceConnections +bind +46")

# embpf show against a running host: show_host.cpp starts its introspection endpoint, loads the seeds' bind and XDP
# programs and the request plugin above, attaches each to a hook and runs the hooks (TraceConnections 3 times on three
# processes, packet_parse twice, count_slashes 4 times), then runs the command after `--` with {socket} and {pid}
# filled in, and exits with its status: the host lives while the command does, so nothing waits for a socket and no
# socket outlives the test. Default sockets go to XDG_RUNTIME_DIR, a directory of the build's own.
add_executable(embpf_show_host ${CMAKE_CURRENT_LIST_DIR}/show_host.cpp)
target_link_libraries(embpf_show_host PRIVATE embpf::embpf)
embpf_set_warnings(embpf_show_host)
add_dependencies(embpf_show_host embpf_test_request_plugin)
set(show_dir ${CMAKE_CURRENT_BINARY_DIR}/show)
file(MAKE_DIRECTORY ${show_dir}/runtime ${show_dir}/alone)
function(embpf_show_test name)
    add_test(NAME ${name} COMMAND embpf_show_host --seeds ${seeds} --platform ${request_host}
             --plugin ${request_plugin_object} ${ARGN})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT XDG_RUNTIME_DIR=${show_dir}/runtime)
endfunction()
embpf_show_test(cli_show_programs --socket ${show_dir}/programs.sock -- $<TARGET_FILE:embpf_cli> show programs
                --socket {socket})
set_tests_properties(cli_show_programs PROPERTIES PASS_REGULAR_EXPRESSION
    "ID +Name +Type +Engine +Runs +Run time \\(ns\\) +Avg \\(ns\\)\n[- ]+\n[0-9]+ +TraceConnections +bind +interpreter +3 +[0-9]+ +[0-9]+\n[0-9]+ +packet_parse +xdp +interpreter +2 +[0-9]+ +[0-9]+\n[0-9]+ +count_slashes +request +(jit|interpreter) +4 +[0-9]+ +[0-9]+\n$")
embpf_show_test(cli_show_programs_json --socket ${show_dir}/programs_json.sock -- $<TARGET_FILE:embpf_cli> show
                programs --json --socket {socket})
set_tests_properties(cli_show_programs_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"stats_enabled\": true,.*\"name\": \"count_slashes\",[ \n]+\"section\": \"request\",[ \n]+\"type\": \"request\",.*\"run_count\": 4,")
# Without run statistics nothing is counted, and the table says why.
embpf_show_test(cli_show_programs_no_stats --socket ${show_dir}/no_stats.sock --no-stats -- $<TARGET_FILE:embpf_cli>
                show programs --socket {socket})
set_tests_properties(cli_show_programs_no_stats PROPERTIES PASS_REGULAR_EXPRESSION
    "[0-9]+ +count_slashes +request +(jit|interpreter) +0 +0 +-

Run statistics are off in this host")
embpf_show_test(cli_show_maps --socket ${show_dir}/maps.sock -- $<TARGET_FILE:embpf_cli> show maps --socket {socket})
set_tests_properties(cli_show_maps PROPERTIES PASS_REGULAR_EXPRESSION
    "ID +Name +Kind +Key +Value +Max entries +Entries +Memory\n[- ]+\n[0-9]+ +proc_map +hash +4 +40 +1024 +3 +[0-9]+\n[0-9]+ +xdp_map +ringbuf +[0-9]+ +[0-9]+ +16384 +- +[0-9]+\n")
embpf_show_test(cli_show_maps_json --socket ${show_dir}/maps_json.sock -- $<TARGET_FILE:embpf_cli> show maps --json
                --socket {socket})
set_tests_properties(cli_show_maps_json PROPERTIES PASS_REGULAR_EXPRESSION
    "\"name\": \"proc_map\",[ \n]+\"kind\": \"hash\",.*\"entries\": 3,.*\"name\": \"xdp_map\",.*\"entries\": null,")
# The host at its default socket ($XDG_RUNTIME_DIR/embpf/PID.sock), found by its process id.
embpf_show_test(cli_show_links -- $<TARGET_FILE:embpf_cli> show links --pid {pid})
set_tests_properties(cli_show_links PROPERTIES PASS_REGULAR_EXPRESSION
    "ID +Hook +Program ID +Program +Priority\n[- ]+\n[0-9]+ +bind +[0-9]+ +TraceConnections +0\n[0-9]+ +xdp +[0-9]+ +packet_parse +0\n[0-9]+ +request +[0-9]+ +count_slashes +5\n$")
# Without --socket or --pid: the one host alive in the default directory (a directory of this test's own).
embpf_show_test(cli_show_links_json_alone -- $<TARGET_FILE:embpf_cli> show links --json)
set_tests_properties(cli_show_links_json_alone PROPERTIES ENVIRONMENT XDG_RUNTIME_DIR=${show_dir}/alone
    PASS_REGULAR_EXPRESSION "\"hook\": \"request\",[ \n]+\"program_id\": [0-9]+,[ \n]+\"program\": \"count_slashes\",[ \n]+\"priority\": 5")
# No host: status 1 and why.
add_test(NAME cli_show_no_host COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=1
         -P ${CMAKE_CURRENT_LIST_DIR}/scripts/expect_exit.cmake $<TARGET_FILE:embpf_cli> show programs
         --socket ${show_dir}/nobody.sock)
set_tests_properties(cli_show_no_host PROPERTIES PASS_REGULAR_EXPRESSION
    "no embpf host listens at .*nobody.sock: there is no socket there" FAIL_REGULAR_EXPRESSION "unexpected exit status")
add_test(NAME cli_show_unknown_listing COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=2
         -P ${CMAKE_CURRENT_LIST_DIR}/scripts/expect_exit.cmake $<TARGET_FILE:embpf_cli> show pins)
set_tests_properties(cli_show_unknown_listing PROPERTIES PASS_REGULAR_EXPRESSION "pins not in"
    FAIL_REGULAR_EXPRESSION "unexpected exit status")

# embpf gen skeleton: the C++ header of an object, on the seeds (a map typed by a typedef, a legacy ring buffer whose
# records BTF does not type, and typed with --ring-record), on typed_maps.o (per-CPU, queue and stack maps, .bss) and
# on the request hook's plugin (a platform described in JSON); statuses 2 for what it refuses.
add_test(NAME cli_gen_skeleton_seed COMMAND embpf_cli gen skeleton ${seeds}/TraceConnections.o --platform windows)
set_tests_properties(cli_gen_skeleton_seed PROPERTIES PASS_REGULAR_EXPRESSION
    "namespace TraceConnections {.*struct _process_info {\n    std::uint32_t id\;\n    std::array<char, 32> name\;.*using process_info = _process_info\;.*embpf::Map<std::uint32_t, process_info> proc_map\;.*embpf::Program TraceConnections\;.*platform = &embpf::platform::windows\\(\\)\;")
add_test(NAME cli_gen_skeleton_ring_handle COMMAND embpf_cli gen skeleton ${seeds}/myxdp_stage4.o)
set_tests_properties(cli_gen_skeleton_ring_handle PROPERTIES PASS_REGULAR_EXPRESSION
    "/// xdp_map: a ring buffer of 16384 bytes\\. BTF does not give its records a type.*embpf::MapHandle xdp_map\;")
add_test(NAME cli_gen_skeleton_ring_record COMMAND embpf_cli gen skeleton ${seeds}/myxdp_stage4.o --name stage4
         --ring-record xdp_map=FiveTuple)
set_tests_properties(cli_gen_skeleton_ring_record PROPERTIES PASS_REGULAR_EXPRESSION
    "namespace stage4 {.*struct FiveTuple {.*static_assert\\(sizeof\\(FiveTuple\\) == 16\\)\;.*embpf::RingBuffer<FiveTuple> xdp_map\;")
add_test(NAME cli_gen_skeleton_globals COMMAND embpf_cli gen skeleton ${EMBPF_TEST_API_DIR}/typed_maps.o)
set_tests_properties(cli_gen_skeleton_globals PROPERTIES PASS_REGULAR_EXPRESSION
    "struct Bss {\n    std::uint32_t seq\;\n}\;.*embpf::Map<std::uint32_t, embpf::PerCpu<counter>> per_interface\;.*embpf::Map<void, event> event_queue\;.*embpf::GlobalData<Bss> bss\;.*read_section\\(spec.m_spec, \".bss\", spec.bss\\)")
add_test(NAME cli_gen_skeleton_platform_json COMMAND embpf_cli gen skeleton ${request_plugin_object}
         --platform ${request_host})
set_tests_properties(cli_gen_skeleton_platform_json PROPERTIES PASS_REGULAR_EXPRESSION
    "/// count_slashes: section request, type request\n        embpf::Program count_slashes\;.*was generated for the host platform request_host")
function(embpf_gen_skeleton_refused name expression)
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -DEXPECTED_EXIT=2
             -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/scripts/expect_exit.cmake -- $<TARGET_FILE:embpf_cli> gen skeleton
             ${ARGN})
    set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${expression}"
                         FAIL_REGULAR_EXPRESSION "unexpected exit status")
endfunction()
embpf_gen_skeleton_refused(cli_gen_skeleton_bad_name "--name my-plugin is not a C\\+\\+ identifier \\(try my_plugin\\)"
                           ${seeds}/TraceConnections.o --name my-plugin)
embpf_gen_skeleton_refused(cli_gen_skeleton_unknown_map "--ring-record nope=FiveTuple: the object has no map nope"
                           ${seeds}/myxdp_stage4.o --ring-record nope=FiveTuple)
embpf_gen_skeleton_refused(cli_gen_skeleton_not_ring "--ring-record proc_map=process_info: the map is a hash, not a ring buffer"
                           ${seeds}/TraceConnections.o --ring-record proc_map=process_info)
embpf_gen_skeleton_refused(cli_gen_skeleton_not_elf "not an ELF file" ${CMAKE_CURRENT_LIST_FILE})

include(${CMAKE_CURRENT_LIST_DIR}/skeleton/skeleton.cmake)
