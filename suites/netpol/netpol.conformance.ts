import { registerSuite } from '../../harness/conformance/register.ts';
import { netpolTests } from './netpol.tests.ts';

registerSuite('netpol', netpolTests);
