// Imported first by server.mjs, before any JS→Wasm call is compiled. Node 20's V8 can abort
// the process ("Fatal error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation)
// when it deoptimises a function whose JS→Wasm call was inlined while that call runs; the shim
// hit it under sustained load. Not inlining those calls avoids it.
import v8 from 'node:v8';

v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');
