import wrap from 'word-wrap';
import type { Plan } from './plan.ts';
import { shellLine } from './shell.ts';

/**
 * The plan as people read it: one numbered entry per step, `id · when`, the description wrapped
 * at `width` columns under it, and the step's command on a line of its own, whole and quoted for
 * a POSIX shell, so that it can be copied as `run` will execute it. Pure; `plan --json` is the
 * machine form.
 */
export function renderPlanText(plan: Plan, width = 100): string {
  const n = String(plan.steps.length).length;
  const indent = ' '.repeat(n + 2);
  return plan.steps
    .map((s, i) => {
      const head = `${String(i + 1).padStart(n)}. ${s.id} · ${s.when}`;
      const body = wrap(s.description, { width: Math.max(20, width - indent.length), indent, trim: true });
      return `${head}\n${body}${s.command ? `\n${indent}$ ${shellLine(s.command)}` : ''}`;
    })
    .join('\n\n');
}
