"""Chat engines on one real-size decoder: transformers generate(), vLLM, CTranslate2 Generator.

The model has the Qwen2.5-0.5B-Instruct shape (Qwen2: hidden 896, 24 layers, 14 query and 2
key/value heads of 64, MLP 4864, vocabulary 151,936, tied embeddings) with random weights,
built from a config (no download) and cached under ``bench/out/chat``; CTranslate2 gets a
conversion of the same folder. The prompts are the tool's chat prompts (``prompts.messages``:
summaries and both translations of generated news sentences) rendered by a ChatML template, as
token ids, so every engine sees the same ids. Every reply is forced to exactly ``--new-tokens``
tokens (min = max, eos ignored), greedy, so each engine does the same work.

Each engine runs in a fresh process; its load time is reported apart from generation. Peak
memory is the largest summed RSS of the engine's whole process tree (vLLM runs its engine core
and worker in child processes), sampled every 0.1 s.

    python bench/chat_engines.py                  # every engine, 16 prompts x 32 new tokens
    python bench/chat_engines.py --engines vllm transformers --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "chat"
ENGINES = ("transformers", "vllm", "ctranslate2")
QWEN25_05B = {
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "head_dim": 64,
    "vocab_size": 151_936, "max_position_embeddings": 4096, "tie_word_embeddings": True,
    "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6,
}
SUBJECTS = ("The city council", "Officials in the northern region", "The health ministry",
            "A spokesperson for the railway company", "Residents of the coastal town",
            "The central bank", "Researchers at the national university", "The mayor")
EVENTS = ("approved a new budget for schools, roads and public transport on Monday",
          "said that three bridges would stay closed until the repairs are finished",
          "warned that heavy rain could cause floods in several valleys this week",
          "announced plans to build two thousand homes near the old harbour",
          "reported that exports rose for the fourth month in a row",
          "asked people to save water during the long dry summer")


def model_dir() -> Path:
    """The random-weight Qwen2.5-0.5B-shaped chat model (built once)."""
    folder = OUT / "qwen2.5-0.5b-shape"
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from summarize.tiny import chat as tiny_chat

    tokenizer = tiny_chat._qwen_tokenizer([], eos="<|im_end|>")
    tokenizer.chat_template = tiny_chat.CHATML_TEMPLATE
    ids = tokenizer.convert_tokens_to_ids
    torch.manual_seed(0)
    config = Qwen2Config(bos_token_id=None, eos_token_id=ids("<|im_end|>"),
                         pad_token_id=ids("<|endoftext|>"), **QWEN25_05B)
    model = Qwen2ForCausalLM(config).eval()
    tmp = folder.with_suffix(".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def prompts(n: int) -> list[list[int]]:
    """``n`` chat prompts as token ids: a summary, a Korean and a Chinese translation in turn."""
    from transformers import AutoTokenizer

    from summarize.backends import prompts as chat_prompts

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    rows = []
    for i in range(n):
        text = (f"{SUBJECTS[i % len(SUBJECTS)]} {EVENTS[i % len(EVENTS)]}. "
                * (1 + i % 3)).strip()
        lang = (None, "ko", "zh-Hans")[i % 3]
        rendered = tokenizer.apply_chat_template(
            [chat_prompts.messages(text, lang, plain=False)], add_generation_prompt=True,
            tokenize=True, return_dict=True)
        rows.append(list(rendered["input_ids"][0]))
    return rows


# ---------------------------------------------------------------------- one engine, in a child


def reply_lengths(n: int, new: int, varied: bool) -> list[int]:
    """New tokens per reply: all ``new``, or (``varied``) a fixed spread from new/4 to 7new/4
    (mean ``new``), as real replies end at different lengths."""
    if not varied:
        return [new] * n
    low, span = max(1, new // 4), max(1, new * 3 // 2)
    return [low + (i * 7919) % (span + 1) for i in range(n)]


def run_transformers(ids: list[list[int]], new: int, batch: int,
                     lengths: list[int] | None = None) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(str(model_dir()), dtype=torch.float32).eval()
    pad = model.config.pad_token_id
    lengths = lengths or [new] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # as the scheduler packs
    start = time.perf_counter()
    produced = 0
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            rows = [ids[i] for i in order[k:k + batch]]
            # a static batch runs until its longest reply ends; the others' extra tokens are
            # thrown away (only each reply's own length is counted as produced)
            longest = max(lengths[i] for i in order[k:k + batch])
            config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=longest,
                                      min_new_tokens=longest, pad_token_id=pad,
                                      eos_token_id=None)
            width = max(map(len, rows))
            input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
            out = model.generate(input_ids=input_ids, attention_mask=mask,
                                 generation_config=config)
            produced += sum(min(lengths[i], int(out.shape[1]) - width)
                            for i in order[k:k + batch])
    return time.perf_counter() - start, produced


def run_vllm(ids: list[list[int]], new: int, batch: int,
             lengths: list[int] | None = None) -> tuple[float, int]:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=str(model_dir()), skip_tokenizer_init=True, dtype="float32", seed=0,
              enable_prefix_caching=True, max_model_len=2048,
              kv_cache_memory_bytes=2 * 2**30)
    lengths = lengths or [new] * len(ids)
    params = [SamplingParams(temperature=0.0, max_tokens=n, min_tokens=n, ignore_eos=True,
                             detokenize=False) for n in lengths]
    llm.generate([TokensPrompt(prompt_token_ids=ids[0])], params[0], use_tqdm=False)  # warm-up
    start = time.perf_counter()
    outputs = llm.generate([TokensPrompt(prompt_token_ids=r) for r in ids], params,
                           use_tqdm=False)
    seconds = time.perf_counter() - start
    return seconds, sum(len(o.outputs[0].token_ids) for o in outputs)


def run_ctranslate2(ids: list[list[int]], new: int, batch: int,
                    lengths: list[int] | None = None,
                    compute_type: str = "float32") -> tuple[float, int]:
    import ctranslate2
    from transformers import AutoTokenizer

    converted = OUT / "qwen2.5-0.5b-shape-ct2"
    if not (converted / "model.bin").exists():
        ctranslate2.converters.TransformersConverter(str(model_dir())).convert(
            str(converted), quantization="float32", force=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    generator = ctranslate2.Generator(str(converted), device="cpu", compute_type=compute_type)
    tokens = [tokenizer.convert_ids_to_tokens(r) for r in ids]
    lengths = lengths or [new] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    start = time.perf_counter()
    produced = 0
    for k in range(0, len(order), batch):  # static batches, as for transformers
        part = order[k:k + batch]
        longest = max(lengths[i] for i in part)
        results = generator.generate_batch(
            [tokens[i] for i in part], max_length=longest, min_length=longest, sampling_topk=1,
            beam_size=1, include_prompt_in_result=False)
        produced += sum(min(lengths[i], len(r.sequences_ids[0]))
                        for i, r in zip(part, results, strict=True))
    return time.perf_counter() - start, produced


def child(engine: str, n: int, new: int, batch: int, varied: bool = False) -> None:
    ids = prompts(n)
    lengths = reply_lengths(n, new, varied)
    loaded = time.perf_counter()
    runner = {"transformers": run_transformers, "vllm": run_vllm,
              "ctranslate2": run_ctranslate2,
              "ctranslate2-int8": lambda i, k, b, n: run_ctranslate2(i, k, b, n, "int8")}[engine]
    seconds, produced = runner(ids, new, batch, lengths)
    print("RESULT " + json.dumps({
        "engine": engine, "prompts": n, "new_tokens": new, "tokens": produced,
        "prompt_tokens": sum(map(len, ids)), "seconds": round(seconds, 2),
        "tokens_per_s": round(produced / seconds, 1),
        "load_and_generate_s": round(time.perf_counter() - loaded, 1)}), flush=True)


# ---------------------------------------------------------------------- the parent


def measure(engine: str, n: int, new: int, batch: int, varied: bool = False) -> dict[str, Any]:
    """Run one engine in a fresh process; its result and the peak RSS of its process tree."""
    import psutil

    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, __file__, "--child", engine, "--prompts", str(n),
                             "--new-tokens", str(new), "--batch", str(batch),
                             *(["--varied"] if varied else [])],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{engine} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return {**json.loads(line.removeprefix("RESULT ")), "peak_rss_mb": round(peak / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES),
                        choices=[*ENGINES, "ctranslate2-int8"])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16,
                        help="rows per generate() call (transformers, CTranslate2)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the whole comparison this many times (shared machines vary)")
    parser.add_argument("--varied", action="store_true",
                        help="replies of different lengths (new/4 to 7new/4, mean new): a "
                             "static batch waits for its longest, vLLM does not")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.prompts, args.new_tokens, args.batch, args.varied)
        return
    model_dir()  # built once, before anything is timed
    for repeat in range(1, args.repeats + 1):
        rows = [measure(engine, args.prompts, args.new_tokens, args.batch, args.varied)
                for engine in args.engines]
        base = next((r for r in rows if r["engine"] == "transformers"), None)
        shape = "about" if args.varied else "exactly"
        print(f"\nrun {repeat}: {args.prompts} prompts x {shape} {args.new_tokens} new tokens, greedy "
              f"float32, Qwen2.5-0.5B shape, load {os.getloadavg()[0]:.1f}")
        print("| engine | tokens/s | vs transformers | generate s | load+generate s | "
              "peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
            print(f"| {r['engine']} | {r['tokens_per_s']} | {ratio} | {r['seconds']} | "
                  f"{r['load_and_generate_s']} | {r['peak_rss_mb']} |")
        for r in rows:
            print("JSON " + json.dumps(r))


if __name__ == "__main__":
    main()
