// embpf as a test double for eBPF programs: everything a test of a program needs, for doctest, Catch2 or any other
// framework. Not part of embpf/embpf.hpp: a host includes it in its tests only.
#pragma once

#include "embpf/testing/context.hpp"
#include "embpf/testing/maps.hpp"
#include "embpf/testing/packets.hpp"
#include "embpf/testing/platform.hpp"
#include "embpf/testing/printk.hpp"
