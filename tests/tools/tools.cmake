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
add_test(NAME cli_run_unknown_program COMMAND embpf_cli run ${seeds}/TraceConnections.o --program nope)
set_tests_properties(cli_run_unknown_program PROPERTIES WILL_FAIL ON)
