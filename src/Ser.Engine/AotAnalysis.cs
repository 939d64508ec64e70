using System.Diagnostics.CodeAnalysis;

// Ser.Engine is IsAotCompatible because libser.so (src/Ser.Abi) compiles it with NativeAOT. The experiment protocol
// (train/evaluate runs: run state, fold progress, reports) still uses reflection-based System.Text.Json. It is reached
// only from sertool, which runs under the JIT, never from libser. These suppressions are the analyzer-only kind
// (SuppressMessage, not UnconditionalSuppressMessage): the NativeAOT compiler ignores them, so `dotnet publish
// src/Ser.Abi` (warnings as errors) fails if any of this code ever becomes reachable from the C ABI. Moving these files
// to source-generated contexts too (as Checkpoints/CheckpointJson.cs does) removes the need for this file.
[assembly: SuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Scope = "namespaceanddescendants",
    Target = "~N:Ser.Engine.Experiments", Justification = "sertool-only (JIT); the libser publish proves it unreachable")]
[assembly: SuppressMessage("AOT", "IL3050:RequiresDynamicCode", Scope = "namespaceanddescendants",
    Target = "~N:Ser.Engine.Experiments", Justification = "sertool-only (JIT); the libser publish proves it unreachable")]
