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
    # what `make bench` runs: whole articles as the tool submits them, the default config's
    # batch caps for the static engines, replies of different lengths
    python bench/chat_engines.py --workload window --prompts 50 --batch 64 --batch-tokens 6000 --varied

Every engine computes on the same cores (``--threads``, default all): torch through
OMP_NUM_THREADS, CTranslate2 through intra_threads, vLLM's worker through
VLLM_CPU_OMP_THREADS_BIND (left to itself vLLM keeps one core for its scheduler process, half of
a 2-core machine). ``vllm`` runs the tool's engine settings (prefix caching, KV blocks of 32
tokens on a CPU: ``vllm_chat.CPU_BLOCK_SIZE``); ``--engines vllm-block128`` shows vLLM's own CPU
block size, ``vllm-no-prefix-cache`` what prefix caching adds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
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


def _tokenizer() -> Any:
    """A byte-level BPE tokenizer trained on the prompts' own words (English runs at about one
    token a word, as in Qwen's 151k vocabulary; the tiny tests' tokenizer spends about one a
    character, which would triple every prompt)."""
    from transformers import Qwen2Tokenizer

    from summarize.backends import prompts as chat_prompts
    from summarize.tiny import chat as tiny_chat
    from summarize.tiny.corpus import EN_LINES, train_bpe

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    texts = [chat_prompts.SUMMARY_PROMPT, chat_prompts.TRANSLATE_PROMPT,
             chat_prompts.PLACEHOLDER_RULE, *EN_LINES, *SUBJECTS, *EVENTS,
             "system user assistant"] * 4
    vocab, merges = train_bpe(texts, 8000, specials, byte_level=True, min_frequency=1)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|im_end|>",
                               pad_token="<|endoftext|>", model_max_length=4096)
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    tokenizer.chat_template = tiny_chat.CHATML_TEMPLATE
    return tokenizer


def model_dir() -> Path:
    """The random-weight Qwen2.5-0.5B-shaped chat model (built once)."""
    folder = OUT / "qwen2.5-0.5b-shape-bpe"
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = _tokenizer()
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


def _render(tokenizer: Any, text: str, lang: str | None) -> list[int]:
    from summarize.backends import prompts as chat_prompts

    rendered = tokenizer.apply_chat_template(
        [chat_prompts.messages(text, lang, plain=False)], add_generation_prompt=True,
        tokenize=True, return_dict=True)
    return list(rendered["input_ids"][0])


def _sentence(i: int) -> str:
    return f"{SUBJECTS[i % len(SUBJECTS)]} {EVENTS[(i * 5 + i // 8) % len(EVENTS)]}."


def prompts(n: int, workload: str = "mixed") -> list[list[int]]:
    """``n`` chat prompts as token ids.

    ``mixed``: a summary of one to three sentences, a Korean and a Chinese translation in turn.
    ``window``: what the tool submits for whole articles of 12 sentences: per article one
    summary of the article, then each sentence into Korean and into Chinese (25 prompts an
    article), until ``n`` prompts. Every translation prompt of one language starts with the
    same instruction, which is what prefix caching can reuse.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    rows = []
    if workload == "mixed":
        for i in range(n):
            text = (f"{_sentence(i)} " * (1 + i % 3)).strip()
            rows.append(_render(tokenizer, text, (None, "ko", "zh-Hans")[i % 3]))
        return rows
    article = 0
    while len(rows) < n:
        sentences = [_sentence(article * 12 + s) for s in range(12)]
        rows.append(_render(tokenizer, " ".join(sentences), None))
        rows.extend(_render(tokenizer, s, lang) for s in sentences for lang in ("ko", "zh-Hans"))
        article += 1
    return rows[:n]


# ---------------------------------------------------------------------- one engine, in a child


def reply_lengths(n: int, new: int, varied: bool) -> list[int]:
    """New tokens per reply: all ``new``, or (``varied``) a fixed spread from new/4 to 7new/4
    (mean ``new``), as real replies end at different lengths."""
    if not varied:
        return [new] * n
    low, span = max(1, new // 4), max(1, new * 3 // 2)
    return [low + (i * 7919) % (span + 1) for i in range(n)]


def batches(ids: list[list[int]], batch: int, batch_tokens: int) -> list[list[int]]:
    """Row indices per generate() call as the scheduler packs them: sorted by length, at most
    ``batch`` rows and (when ``batch_tokens``) at most that many padded prompt tokens."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[list[int]] = []
    for i in order:
        last = out[-1] if out else None
        if last is not None and len(last) < batch and (
                not batch_tokens or (len(last) + 1) * len(ids[i]) <= batch_tokens):
            last.append(i)
        else:
            out.append([i])
    return out


def run_transformers(ids: list[list[int]], new: int, batch: int,
                     lengths: list[int] | None = None, batch_tokens: int = 0,
                     **_: Any) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(str(model_dir()), dtype=torch.float32).eval()
    pad = model.config.pad_token_id
    lengths = lengths or [new] * len(ids)
    start = time.perf_counter()
    produced = 0
    with torch.inference_mode():
        for part in batches(ids, batch, batch_tokens):
            rows = [ids[i] for i in part]
            # a static batch runs until its longest reply ends; the others' extra tokens are
            # thrown away (only each reply's own length is counted as produced)
            longest = max(lengths[i] for i in part)
            config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=longest,
                                      min_new_tokens=longest, pad_token_id=pad,
                                      eos_token_id=None)
            width = max(map(len, rows))
            input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
            out = model.generate(input_ids=input_ids, attention_mask=mask,
                                 generation_config=config)
            produced += sum(min(lengths[i], int(out.shape[1]) - width) for i in part)
    return time.perf_counter() - start, produced


def run_vllm(ids: list[list[int]], new: int, batch: int,
             lengths: list[int] | None = None, prefix_caching: bool = True,
             block_size: int | None = None, **_: Any) -> tuple[float, int]:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from summarize.backends.vllm_chat import CPU_BLOCK_SIZE

    llm = LLM(model=str(model_dir()), skip_tokenizer_init=True, dtype="float32", seed=0,
              enable_prefix_caching=prefix_caching, max_model_len=2048,
              kv_cache_memory_bytes=2 * 2**30, block_size=block_size or CPU_BLOCK_SIZE)
    lengths = lengths or [new] * len(ids)
    params = [SamplingParams(temperature=0.0, max_tokens=n, min_tokens=n, ignore_eos=True,
                             detokenize=False) for n in lengths]
    # warm-up on a prompt none of the timed ones starts with (so no cached prefix is reused)
    llm.generate([TokensPrompt(prompt_token_ids=list(range(1000, 1040)))], params[0],
                 use_tqdm=False)
    start = time.perf_counter()
    outputs = llm.generate([TokensPrompt(prompt_token_ids=r) for r in ids], params,
                           use_tqdm=False)
    seconds = time.perf_counter() - start
    return seconds, sum(len(o.outputs[0].token_ids) for o in outputs)


def run_ctranslate2(ids: list[list[int]], new: int, batch: int,
                    lengths: list[int] | None = None, batch_tokens: int = 0,
                    compute_type: str = "float32", **_: Any) -> tuple[float, int]:
    import ctranslate2
    from transformers import AutoTokenizer

    converted = OUT / "qwen2.5-0.5b-shape-bpe-ct2"
    if not (converted / "model.bin").exists():
        ctranslate2.converters.TransformersConverter(str(model_dir())).convert(
            str(converted), quantization="float32", force=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    generator = ctranslate2.Generator(str(converted), device="cpu", compute_type=compute_type,
                                      intra_threads=int(os.environ.get("OMP_NUM_THREADS", 0)))
    tokens = [tokenizer.convert_ids_to_tokens(r) for r in ids]
    lengths = lengths or [new] * len(ids)
    start = time.perf_counter()
    produced = 0
    for part in batches(ids, batch, batch_tokens):  # static batches, as for transformers
        longest = max(lengths[i] for i in part)
        results = generator.generate_batch(
            [tokens[i] for i in part], max_length=longest, min_length=longest, sampling_topk=1,
            beam_size=1, include_prompt_in_result=False)
        produced += sum(min(lengths[i], len(r.sequences_ids[0]))
                        for i, r in zip(part, results, strict=True))
    return time.perf_counter() - start, produced


def child(engine: str, options: dict[str, Any]) -> None:
    n, new = options["prompts"], options["new_tokens"]
    ids = prompts(n, options["workload"])
    lengths = reply_lengths(n, new, options["varied"])
    loaded = time.perf_counter()
    runner = {"transformers": run_transformers, "vllm": run_vllm,
              "vllm-no-prefix-cache": partial(run_vllm, prefix_caching=False),
              "vllm-block128": partial(run_vllm, block_size=128),
              "ctranslate2": run_ctranslate2,
              "ctranslate2-int8": partial(run_ctranslate2, compute_type="int8")}[engine]
    seconds, produced = runner(ids, new, options["batch"], lengths,
                               batch_tokens=options["batch_tokens"])
    print("RESULT " + json.dumps({
        "engine": engine, "workload": options["workload"], "prompts": n, "new_tokens": new,
        "tokens": produced, "prompt_tokens": sum(map(len, ids)), "seconds": round(seconds, 2),
        "tokens_per_s": round(produced / seconds, 1),
        "load_and_generate_s": round(time.perf_counter() - loaded, 1)}), flush=True)


# ---------------------------------------------------------------------- the parent


def measure(engine: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run one engine in a fresh process; its result and the peak RSS of its process tree."""
    import psutil

    threads = options["threads"]
    cores = ",".join(map(str, sorted(os.sched_getaffinity(0))[:threads]))
    # every engine computes on the same ``threads`` cores: torch through OMP_NUM_THREADS,
    # CTranslate2 through intra_threads (set from it), vLLM's worker through its
    # binding (left to itself it keeps one core for its scheduler process)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING",
           "OMP_NUM_THREADS": str(threads), "VLLM_CPU_OMP_THREADS_BIND": cores}
    proc = subprocess.Popen([sys.executable, __file__, "--child", engine,
                             "--options", json.dumps(options)],
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
                        choices=[*ENGINES, "vllm-no-prefix-cache", "vllm-block128",
                                 "ctranslate2-int8"])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16,
                        help="rows per generate() call (transformers, CTranslate2)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the whole comparison this many times (shared machines vary)")
    parser.add_argument("--varied", action="store_true",
                        help="replies of different lengths (new/4 to 7new/4, mean new): a "
                             "static batch waits for its longest, vLLM does not")
    parser.add_argument("--workload", choices=("mixed", "window"), default="mixed",
                        help="mixed: short summaries and translations in turn; window: whole "
                             "articles as the tool submits them (a summary of 12 sentences, "
                             "then each sentence into ko and zh-Hans)")
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="also cap padded prompt tokens per generate() call, as the "
                             "scheduler's max_batch_tokens does (0: rows only)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="compute threads (cores) for every engine (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.options))
        return
    options = {"prompts": args.prompts, "new_tokens": args.new_tokens, "batch": args.batch,
               "batch_tokens": args.batch_tokens, "varied": args.varied,
               "workload": args.workload, "threads": args.threads}
    model_dir()  # built once, before anything is timed
    for repeat in range(1, args.repeats + 1):
        rows = [measure(engine, options) for engine in args.engines]
        base = next((r for r in rows if r["engine"] == "transformers"), None)
        shape = "about" if args.varied else "exactly"
        print(f"\nrun {repeat}: {args.workload} workload, {args.prompts} prompts x {shape} "
              f"{args.new_tokens} new tokens, greedy float32, Qwen2.5-0.5B shape, "
              f"{args.threads} threads, "
              f"load {os.getloadavg()[0]:.1f}")
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
