import type { ConformanceTest } from '../harness/conformance/define.ts';
import { installTests } from './install/install.tests.ts';
import { authzTests } from './authz/authz.tests.ts';
import { budgetTests } from './budget/budget.tests.ts';
import { mtlsTests } from './mtls/mtls.tests.ts';
import { netpolTests } from './netpol/netpol.tests.ts';
import { removalTests } from './removal/removal.tests.ts';

/** Every conformance test, in run order. `list` prints this; the reports include every entry. */
export const catalog: ConformanceTest[] = [
  ...installTests,
  ...netpolTests,
  ...mtlsTests,
  ...authzTests,
  ...budgetTests,
  ...removalTests,
];
