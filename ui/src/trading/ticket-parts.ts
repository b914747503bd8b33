// Building blocks of the order ticket: labelled amount inputs and radio segmented controls.
import { h, uid } from "./dom";

export interface AmountField {
  row: HTMLElement;
  input: HTMLInputElement;
  hint: HTMLElement;
}

export function amountField(label: string, name: string, describedBy: string): AmountField {
  const id = uid(`tk-${name}`);
  const hint = h("span", { class: "tk-hint" });
  const input = h("input", {
    id, name, type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false",
    "aria-describedby": describedBy, placeholder: "0.00",
  }); // prettier-ignore
  const row = h("div", { class: "tk-field" }, h("label", { for: id }, label, hint), input);
  return { row, input, hint };
}

export interface Segmented<T extends string> {
  set: HTMLFieldSetElement;
  value(): T;
  select(value: T): void;
}

/** Radio buttons drawn as a segmented control: arrow keys move, like any radio group. */
export function segmented<T extends string>(legend: string, options: [T, string][], cls: string): Segmented<T> {
  const group = uid("tk-radio");
  const inputs = new Map<T, HTMLInputElement>();
  const set = h("fieldset", { class: `tk-seg ${cls}` }, h("legend", { class: "sr-only" }, legend));
  for (const [value, text] of options) {
    const id = uid(group);
    const input = h("input", { type: "radio", name: group, id, value, class: "tk-radio" });
    inputs.set(value, input);
    set.append(h("span", { class: `tk-opt tk-opt-${value}` }, input, h("label", { for: id }, text)));
  }
  inputs.get(options[0][0])!.checked = true;
  return {
    set,
    value: () => [...inputs].find(([, input]) => input.checked)?.[0] ?? options[0][0],
    select: (value) => {
      const input = inputs.get(value);
      if (input) input.checked = true;
    },
  };
}

export function selectField(label: string, options: [string, string][]): { row: HTMLElement; select: HTMLSelectElement } {
  const id = uid("tk-select");
  const select = h("select", { id });
  for (const [value, text] of options) select.append(h("option", { value }, text));
  return { row: h("div", { class: "tk-field" }, h("label", { for: id }, label), select), select };
}
