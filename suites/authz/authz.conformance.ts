import { registerSuite } from '../../harness/conformance/register.ts';
import { authzTests } from './authz.tests.ts';

registerSuite('authz', authzTests);
