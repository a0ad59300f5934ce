import type { ConformanceTest } from '../harness/conformance/define.ts';
import { installTests } from './install/install.tests.ts';

/** Every conformance test, in run order. `list` prints this; the reports include every entry. */
export const catalog: ConformanceTest[] = [...installTests];
