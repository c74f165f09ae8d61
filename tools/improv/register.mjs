// node --import tools/improv/register.mjs: loads the SDK through hooks.mjs.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
