// Report::facts from the analysis' states: what one state says of each register, in the public terms of
// RegisterFact, and the join of two such facts. The only place the public facts meet the domains.
#pragma once

#include "state.hpp"

#include "embpf/verifier/verifier.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace embpf::verifier::detail {

/// Maps whose descriptor index names the map itself in every state: no other map is alike (AlikeMaps) and no map of
/// maps holds it as its inner template.
[[nodiscard]] std::vector<bool> exact_maps(std::span<const MapDescriptor> maps, AlikeMaps alike);

/// What `s` says of each register (s is not bottom).
[[nodiscard]] InstructionFacts facts_of(const State& s, const std::vector<bool>& exact);

/// `into` joined with `other`: what holds in both.
void join_facts(InstructionFacts& into, const InstructionFacts& other);

/// Between the two shifts of `rX <<= k; rX >>= k` (or `s>>=`) the analysis keeps rX's value from before the pair (it
/// takes a pair that fits for the identity, so that relations survive it), which is not what rX holds there: the facts
/// at each such right shift say rX is a number and no more.
void forget_shift_pairs(std::span<InstructionFacts> facts, std::span<const isa::Instruction> code);

} // namespace embpf::verifier::detail
