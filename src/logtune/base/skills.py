"""A generic "skills" corpus for the tiny base model: in-context lookup and copy, nothing from the domain.

A few hundred logged conversations hold too few copy events for a 1-4M-parameter model to learn to
quote the id and the fact in front of it (it learns the average id instead). A real pre-trained model
arrives with that skill; the tiny default gets it from this corpus, once, offline
(`benchmarks/pretrain_skills.py` writes a checkpoint; none is committed yet), and the `base` stage
then only adapts it to the curated text.

Each row is a chat (the tiny tokenizer's role markers) over a random table of records, in one of
several formats (JSON lists under a random key, `key: value` lines, `|` tables): random ids with
random 2-5 letter prefixes and 2-6 digits, random field names and values (English words, person
names, ISO dates, numbers, short phrases). The user asks for one field of one id (or of an id that
is absent), follow-ups ask another field of the same record ("and its X?") or of another id; every
answer copies the id and the looked-up value, or says the id is not in the records. The answer is
predictable only by finding the record and copying: nothing is memorisable.

Vocabulary comes from Faker's word lists (English lorem words, US first/last names, catch-phrase
words); phrasings are this module's own, written for it: no golden text and none of the sample
generator's (`logtune.sample`) templates, names, prefixes or field values are used (a test checks
that no golden question, answer or id appears). Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
import string
from datetime import date, timedelta

SYSTEM = ["Use the records below.", "Reply using the table only.", "Look things up in DATA.",
          "You answer questions about the listed items.", "Only the facts below are known.", ""]
ASK = ["What is the {f} of {i}?", "{i}: {f}?", "Tell me the {f} for {i}.", "I need {i}'s {f}.",
       "Which {f} does {i} have?", "Look up {f} on {i}", "give me the {f} of {i}", "{f} for {i}, please?",
       "Could you find the {f} of {i}?", "what's {i}'s {f}"]
FOLLOW_SAME = ["And its {f}?", "what about the {f}?", "And the {f}?", "Its {f}?", "Also the {f}, please."]
FOLLOW_OTHER = ["And for {i}?", "Same for {i}.", "Now {i}?", "Then {i}?"]
ANSWER = ["{i} has {f} {v}.", "The {f} of {i} is {v}.", "{i}: {f} is {v}.", "For {i}, the {f} is {v}.",
          "{v} is the {f} of {i}.", "{i}'s {f}: {v}."]
ABSENT = ["There is no {i} in the records.", "{i} is not listed, so I can't say.", "I can't find {i} in the data.",
          "No record has the id {i}."]
HEADER = ["DATA", "CONTEXT", "TABLE", "RECORDS", "ITEMS"]


def _words():
    from faker.providers.company.en_US import Provider as Company
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    words = [w for w in Lorem.word_list if len(w) > 2]
    phrase_words = sorted({w for group in Company.catch_phrase_words for w in group if " " not in w})
    return words, list(Person.first_names), list(Person.last_names), phrase_words


class SkillsCorpus:
    """Random lookup-and-copy chats; `rows(n)` is deterministic for a seed."""

    def __init__(self, seed: int = 0, max_records: int = 5, max_turns: int | None = None):
        self.rng = random.Random(seed)
        self.words, self.first, self.last, self.phrase = _words()
        self.max_records = max_records  # a curriculum raises it as training goes (pretrain_skills' curriculum_steps)
        # questions per table: None 1-4; N: N-3..N (more questions per table: more trained copies per token read)
        self.turns = [1, 2, 2, 3, 3, 4] if max_turns is None else list(range(max(1, max_turns - 3), max_turns + 1))

    def record_id(self, prefix: str, digits: int) -> str:
        return f"{prefix}-{self.rng.randint(10 ** (digits - 1), 10 ** digits - 1)}"

    def value(self, kind: str) -> str:
        r = self.rng
        if kind == "name":
            return f"{r.choice(self.first)} {r.choice(self.last)}"
        if kind == "date":
            return (date(2020, 1, 1) + timedelta(days=r.randint(0, 3650))).isoformat()
        if kind == "number":
            return str(r.randint(0, 10 ** r.randint(1, 5)))
        if kind == "phrase":
            return " ".join(r.choice(self.phrase) for _ in range(r.randint(2, 3))).capitalize()
        return " ".join(r.choice(self.words) for _ in range(r.randint(1, 2)))

    def table(self):
        r = self.rng
        n_fields = r.randint(2, 5)  # sample CONTEXTs of other domains have 4-6 fields; generic lengths here
        fields = []
        while len(fields) < n_fields:
            f = r.choice(self.words)
            if f not in fields and f != "id":
                fields.append(f)
        kinds = {f: r.choice(["word", "word", "name", "date", "number", "phrase"]) for f in fields}
        prefixes = ["".join(r.choice(string.ascii_uppercase) for _ in range(r.randint(2, 5)))
                    for _ in range(r.randint(1, 3))]
        digits = {p: r.randint(2, 6) for p in prefixes}
        records, ids, n_records = [], set(), r.randint(min(2, self.max_records), self.max_records)
        while len(records) < n_records:
            p = r.choice(prefixes)
            rid = self.record_id(p, digits[p])
            if rid in ids:
                continue
            ids.add(rid)
            rec = {"id": rid}
            for f in fields:
                rec[f] = self.value(kinds[f])
            records.append(rec)
        return records, fields, prefixes, digits

    def render(self, records, fields) -> str:
        r = self.rng
        style = r.choice([0, 0, 0, 1, 2])  # JSON most: what a logged CONTEXT usually is
        head = r.choice(HEADER)
        if style == 0:
            # key order: id first, shuffled, or sorted (json.dumps(sort_keys=True), where the id may come
            # after fields it owns): a lookup must find a record's value on either side of its id
            order = r.randint(0, 2)
            shuffled = [rec if order == 2 else dict(sorted(rec.items(), key=lambda kv: (order == 0 and kv[0] != "id",
                                                                                       r.random())))
                        for rec in records]
            return f"{head}: " + json.dumps({r.choice(self.words) + "s": shuffled}, separators=(",", ":"),
                                            sort_keys=order == 2)
        if style == 1:
            return f"{head}:\n" + "\n".join("; ".join(f"{k}: {v}" for k, v in rec.items()) for rec in records)
        cols = ["id", *fields]
        return f"{head}:\n" + " | ".join(cols) + "\n" + "\n".join(" | ".join(rec[c] for c in cols) for rec in records)

    def answer(self, rec, f) -> str:
        return self.rng.choice(ANSWER).format(i=rec["id"], f=f, v=rec[f])

    def chat(self) -> tuple[list[dict[str, str]], list[tuple[str, str, dict[str, str] | None, str]]]:
        """(records, turns): each turn (question, answer, the record asked about or None when absent, field)."""
        r = self.rng
        records, fields, prefixes, digits = self.table()
        turns: list[tuple[str, str, dict[str, str] | None, str]] = []
        current, last_f = None, None
        for t in range(r.choice(self.turns)):  # several questions per table: more copies per token
            if t > 0 and current is not None and r.random() < 0.5:
                last_f = f = r.choice(fields)
                turns.append((r.choice(FOLLOW_SAME).format(f=f), self.answer(current, f), current, f))
                continue
            f = r.choice(fields)
            if r.random() < 0.2:  # an id shaped like the table's, but absent
                p = r.choice(prefixes)
                absent = self.record_id(p, digits[p])
                if any(rec["id"] == absent for rec in records):
                    continue
                ask = r.choice(ASK).format(f=f, i=absent) if t == 0 or r.random() < 0.5 \
                    else r.choice(FOLLOW_OTHER).format(i=absent)
                turns.append((ask, r.choice(ABSENT).format(i=absent), None, f))
                current, last_f = None, f
                continue
            current = r.choice(records)
            ask = r.choice(ASK).format(f=f, i=current["id"])
            if last_f is not None and r.random() < 0.3:  # "same for X": the field asked last time
                f, ask = last_f, r.choice(FOLLOW_OTHER).format(i=current["id"])
            last_f = f
            turns.append((ask, self.answer(current, f), current, f))
        return records, fields, turns

    def row(self) -> str:
        """One chat as text in the tiny tokenizer's markup (the last EOS left to the batcher)."""
        return self.example()[0]

    def example(self):
        """(row text, records, turns): the row and what it asks, for a probe that checks replies."""
        r = self.rng
        records, fields, turns = self.chat()
        system = " ".join(s for s in (r.choice(SYSTEM), self.render(records, fields)) if s)
        parts = [f"<|system|>\n{system}<|end|>"]
        for q, a, _, _ in turns:
            parts += [f"<|user|>\n{q}<|end|>", f"<|assistant|>\n{a}<|eos|>"]
        return "\n".join(parts).removesuffix("<|eos|>"), records, turns  # the batcher closes every row with EOS

    def rows(self, n: int) -> list[str]:
        return [self.row() for _ in range(n)]


def answer_mask(ids: list[int], assistant_id: int, eos_id: int) -> list[bool]:
    """True on the tokens of each assistant reply (after `<|assistant|>` and its newline) and its EOS."""
    mask, inside, skip = [], False, False
    for t in ids:
        if skip:  # the newline after the role marker belongs to the header
            mask.append(False)
            skip, inside = False, True
            continue
        mask.append(inside)
        if t == assistant_id:
            skip = True
        elif t == eos_id:
            inside = False
    return mask


def batch(rows: list[str], tokenizer, max_length: int):
    """(input_ids, attention_mask, answer_mask) tensors, right-padded; rows end with EOS."""
    import torch

    asst = tokenizer.convert_tokens_to_ids("<|assistant|>")
    encoded = [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id][:max_length]
               for ids in tokenizer(rows, add_special_tokens=False)["input_ids"]]
    width = max(len(r) for r in encoded)
    ids = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    target = torch.zeros_like(ids, dtype=torch.bool)
    for j, r in enumerate(encoded):
        ids[j, : len(r)] = torch.tensor(r)
        mask[j, : len(r)] = 1
        target[j, : len(r)] = torch.tensor(answer_mask(r, asst, tokenizer.eos_token_id))
    return ids, mask, target


def probe_set(seed: int, n: int = 48, max_records: int = 3) -> list[tuple[str, str | None, str | None]]:
    """`n` held-out first questions: (prompt up to the assistant header, asked id, value or None when absent)."""
    corpus = SkillsCorpus(seed, max_records=max_records)
    out = []
    while len(out) < n:
        row, _, turns = corpus.example()
        question, answer, record, field = turns[0]
        prompt = row.split("<|assistant|>\n")[0] + "<|assistant|>\n"
        asked = record["id"] if record is not None else re.search(r"\b[A-Z]{2,5}-\d{2,6}\b", question).group(0)
        out.append((prompt, asked, record[field] if record is not None else None))
    return out


def probe(model, tokenizer, cases, max_new_tokens: int = 40, batch_size: int = 16) -> dict:
    """Greedy replies to `probe_set` cases: shares that copy the asked id, the looked-up value, both (a
    pass), and, for absent ids, that say so without a value (a reply naming the id and no other)."""
    import torch

    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    replies = []
    try:
        for i in range(0, len(cases), batch_size):
            prompts = [tokenizer.bos_token + c[0] for c in cases[i:i + batch_size]]
            enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            replies += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    present = [(r, c) for r, c in zip(replies, cases) if c[2] is not None]
    absent = [(r, c) for r, c in zip(replies, cases) if c[2] is None]
    ids = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b")
    return {
        "present": len(present),
        "id_copied": sum(c[1] in r for r, c in present) / max(1, len(present)),
        "value_copied": sum(c[2] in r for r, c in present) / max(1, len(present)),
        "answer_ok": sum(c[1] in r and c[2] in r for r, c in present) / max(1, len(present)),
        "absent": len(absent),
        "absent_ok": sum(set(ids.findall(r)) == {c[1]} for r, c in absent) / max(1, len(absent)),
        "examples": [r for r in replies[:3]],
    }


def curriculum_records(step: int, top: int, curriculum_steps: int) -> int:
    """Records per table at most at `step` (1-based): 1 at first, `top` from `curriculum_steps` on, in equal stages."""
    if not curriculum_steps:
        return top
    return min(top, 1 + (top - 1) * (step - 1) // curriculum_steps)


def pretrain_skills(model, tokenizer, corpus: SkillsCorpus, *, steps: int, batch_size: int, learning_rate: float,
                    warmup_steps: int, max_length: int, log_every: int = 25, save_every: int = 0,
                    save=None, log=print, curriculum_steps: int = 0, probe_every: int = 0,
                    probe_cases=None, decay_after: int | None = None, step_offset: int = 0) -> dict:
    """Train all weights on fresh corpus rows, the loss on reply tokens only (the copies).

    Only reply positions go through the output layer: with every 1-4 digit number a token the
    vocabulary is ~13k, and the output layer over every position would cost more than the model.
    The learning rate is constant after warm-up (then, from `decay_after` on, falls linearly to 10% at
    `steps`), so the checkpoint after N steps is the one a run of `steps=N` writes while N <= decay_after.
    `curriculum_steps`: tables grow from one record to `corpus.max_records` over these steps (one
    record: copying alone; more: finding the record first), counted from `step_offset` (a continued
    run's steps so far). `probe_every`: greedy replies to
    `probe_cases` (`probe_set`) every that many steps, logged and returned as `probes`.
    """
    import time

    import torch

    from logtune.base.tiny import optimizer_step

    decay = [w for w in model.parameters() if w.dim() >= 2]
    no_decay = [w for w in model.parameters() if w.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=learning_rate, betas=(0.9, 0.95))
    def lr_at(s: int) -> float:
        if decay_after is not None and s >= decay_after:
            return max(0.1, 1.0 - 0.9 * (s - decay_after) / max(1, steps - decay_after))
        return min(1.0, (s + 1) / warmup_steps)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    top = corpus.max_records
    model.train()
    start, losses, hits, probes = time.monotonic(), [], [], []
    for step in range(1, steps + 1):
        corpus.max_records = curriculum_records(step + step_offset, top, curriculum_steps)
        ids, mask, target = batch(corpus.rows(batch_size), tokenizer, max_length)
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        # the token at position p is predicted from position p-1
        pred_pos = target[:, 1:]
        logits = model.lm_head(hidden[:, :-1][pred_pos])
        gold = ids[:, 1:][pred_pos]
        loss = torch.nn.functional.cross_entropy(logits, gold)
        optimizer_step(model, loss, opt, sched)
        losses.append(loss.item())
        hits.append((logits.argmax(-1) == gold).float().mean().item())
        if step % log_every == 0 or step == steps:
            w = losses[-log_every:]
            a = hits[-log_every:]
            log(f"skills step {step}/{steps} loss {sum(w) / len(w):.4f} reply-token acc {sum(a) / len(a):.3f} "
                f"({time.monotonic() - start:.0f}s)")
        if probe_every and probe_cases and (step % probe_every == 0 or step == steps):
            model.eval()
            probes.append({"step": step, **probe(model, tokenizer, probe_cases)})
            log(f"probe step {step}: {json.dumps(probes[-1])}")
            model.train()
        if save is not None and save_every and step % save_every == 0 and step != steps:
            model.eval()
            save(step)
            model.train()
    model.eval()
    n = min(50, len(losses))
    return {"steps": steps, "loss_last": sum(losses[-n:]) / n, "reply_token_accuracy": sum(hits[-n:]) / n,
            "seconds": round(time.monotonic() - start, 1), "probes": probes}
