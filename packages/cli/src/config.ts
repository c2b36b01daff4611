// `--config FILE` and `--print-config` on every command: a JSON object whose keys mirror the command's
// options (camelCase, as --print-config prints them). Each value is checked by the option's own parser and
// choices, exactly as the same flag would be; unknown keys are errors; flags given on the command line win.
import { readFileSync } from "node:fs";
import { DepError } from "@dep/native-cuda";
import { type Command, CommanderError, type Option } from "commander";

const PLUMBING = new Set(["config", "printConfig"]);

/**
 * Adds --config and --print-config to a command (call it after the command's own options) and applies them
 * before its action runs. Required options may then come from the file: they are checked after it is read.
 */
export function addConfigOptions(cmd: Command): void {
  const required = cmd.options.filter((o) => o.mandatory);
  for (const o of required) o.makeOptionMandatory(false);
  cmd
    .option("--config <file>", "JSON file with this command's options (camelCase keys); flags override it")
    .option("--print-config", "print the merged options as JSON and exit", false)
    .hook("preAction", (_parent, actionCmd) => {
      applyConfigFile(actionCmd);
      for (const o of required) {
        if (actionCmd.getOptionValue(o.attributeName()) === undefined)
          throw new DepError(
            "DEP_USAGE",
            `required option '${o.flags}' not specified (give it as a flag or in --config)`,
          );
      }
      if (actionCmd.getOptionValue("printConfig")) {
        console.log(printableConfig(actionCmd.opts()));
        throw new CommanderError(0, "dep.printConfig", ""); // exit 0 without running the action
      }
    });
}

export function applyConfigFile(cmd: Command): void {
  const path = cmd.getOptionValue("config") as string | undefined;
  if (!path) return;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DepError(
      e.code === "ENOENT" ? "DEP_INPUT" : "DEP_USAGE",
      `--config ${path}: ${e.code === "ENOENT" ? "no such file" : `not valid JSON (${e.message})`}`,
      { cause: err },
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new DepError("DEP_USAGE", `--config ${path}: expected a JSON object of options`);
  const options = new Map(
    cmd.options
      .filter((o) => !PLUMBING.has(o.attributeName()))
      .map((o) => [o.attributeName(), o] as [string, Option]),
  );
  for (const [key, value] of Object.entries(raw)) {
    const option = options.get(key);
    if (!option) {
      throw new DepError(
        "DEP_USAGE",
        `--config ${path}: unknown option "${key}" for dep ${cmd.name()} (known: ${[...options.keys()].join(", ")})`,
      );
    }
    if (cmd.getOptionValueSource(key) === "cli") continue; // flags win
    cmd.setOptionValueWithSource(key, parseValue(option, value, `--config ${path}: ${key}`), "config");
  }
}

/** A config value through the option's own checks (its parser and choices), as if given as the flag. */
function parseValue(option: Option, value: unknown, where: string): unknown {
  if (option.isBoolean()) {
    if (typeof value !== "boolean") throw new DepError("DEP_USAGE", `${where}: expected true or false`);
    return value;
  }
  const one = (v: unknown): unknown => {
    if (typeof v !== "string" && typeof v !== "number")
      throw new DepError("DEP_USAGE", `${where}: expected a string or a number, got ${JSON.stringify(v)}`);
    const text = String(v);
    if (option.argChoices && !option.argChoices.includes(text))
      throw new DepError("DEP_USAGE", `${where}: "${text}" is not one of ${option.argChoices.join(", ")}`);
    try {
      return option.parseArg ? option.parseArg(text, undefined) : text;
    } catch (err) {
      throw new DepError("DEP_USAGE", `${where}: ${(err as Error).message}`, { cause: err });
    }
  };
  if (option.variadic) return (Array.isArray(value) ? value : [value]).map(one);
  return one(value);
}

/** The merged options as JSON (for --print-config), without the config plumbing itself. */
export function printableConfig(opts: Record<string, unknown>): string {
  const rest = Object.fromEntries(Object.entries(opts).filter(([k]) => !PLUMBING.has(k) && k !== "json"));
  return JSON.stringify(rest, null, 2);
}
