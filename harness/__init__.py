"""What the integration tests and the benchmarks both drive: a real `modelyard up` on free ports
(stack), servers that fail on purpose (faults), media made on the spot (media) and the one test
double, a controllable fake vLLM server (fake_vllm). Tooling, not product: not in the wheel.
"""
