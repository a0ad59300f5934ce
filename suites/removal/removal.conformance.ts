import { registerSuite } from '../../harness/conformance/register.ts';
import { removalTests } from './removal.tests.ts';

registerSuite('removal', removalTests);
