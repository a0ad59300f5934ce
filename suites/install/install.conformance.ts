import { registerSuite } from '../../harness/conformance/register.ts';
import { installTests } from './install.tests.ts';

registerSuite('install', installTests);
