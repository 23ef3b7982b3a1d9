/**
 * Reads src/ as the architecture test sees it: every file's imports (type-only ones too: they are
 * dependencies all the same), folded into a folder → folder graph, and the exported declarations
 * whose signatures say `any`. Syntax only (no type checking), so it takes a moment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const SRC = path.resolve(import.meta.dirname, '../../src');

export interface SourceFile {
  /** Relative to src/, with forward slashes. */
  file: string;
  /** The folder relative to src/ ('.' for src/ itself). */
  folder: string;
  lines: number;
  /** Files of src/ it imports, relative to src/. */
  imports: string[];
  ast: ts.SourceFile;
}

export function readSourceTree(root = SRC): SourceFile[] {
  return listTs(root).map((absolute) => {
    const text = readFileSync(absolute, 'utf8');
    const ast = ts.createSourceFile(absolute, text, ts.ScriptTarget.Latest, true);
    const file = relative(root, absolute);
    const imports = specifiers(ast)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => relative(root, path.resolve(path.dirname(absolute), specifier.replace(/\.js$/, '.ts'))));
    return { file, folder: path.posix.dirname(file), lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), imports, ast };
  });
}

/** `from → to` for every pair of different folders where a file of `from` imports a file of `to`. */
export function folderGraph(files: readonly SourceFile[]): Map<string, Set<string>> {
  const folderOf = new Map(files.map((file) => [file.file, file.folder]));
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = graph.get(file.folder) ?? new Set<string>();
    graph.set(file.folder, targets);
    for (const imported of file.imports) {
      const to = folderOf.get(imported) ?? path.posix.dirname(imported);
      if (to !== file.folder) targets.add(to);
    }
  }
  return graph;
}

/** The folders that reach each other (strongly connected components of more than one folder), Tarjan's way. */
export function folderCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/** `file: name` for each exported declaration whose signature (not its body) mentions `any` or `as unknown as`. */
export function anyInExports(files: readonly SourceFile[]): string[] {
  const found: string[] = [];
  for (const { file, ast } of files) {
    for (const statement of ast.statements) {
      if (!isExported(statement)) continue;
      if (signatureSays(statement)) found.push(`${file}: ${declarationName(statement)}`);
    }
  }
  return found;
}

/**
 * `file: name (n lines)` for every function, method, constructor, accessor and function-valued
 * arrow whose text spans more than `max` lines. A nested function counts apart from its parent,
 * and so does its parent: the parent's lines include it, as a reader's eye does.
 */
export function longFunctions(files: readonly SourceFile[], max: number): string[] {
  const found: string[] = [];
  for (const { file, ast } of files) {
    const visit = (node: ts.Node): void => {
      if (isFunctionLike(node) && node.body) {
        const start = ast.getLineAndCharacterOfPosition(node.getStart(ast)).line;
        const end = ast.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = end - start + 1;
        if (lines > max) found.push(`${file}: ${functionName(node)} (${lines} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(ast);
  }
  return found;
}

type FunctionWithBody = ts.FunctionDeclaration | ts.MethodDeclaration | ts.ConstructorDeclaration | ts.AccessorDeclaration | ts.FunctionExpression | ts.ArrowFunction;

function isFunctionLike(node: ts.Node): node is FunctionWithBody {
  return ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node);
}

/** The name a reader would search for: its own, else the variable or property it is assigned to. */
function functionName(node: FunctionWithBody): string {
  if (ts.isConstructorDeclaration(node)) return `${className(node.parent)}.constructor`;
  if (node.name) return ts.isClassLike(node.parent) ? `${className(node.parent)}.${node.name.getText()}` : node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  const line = node.getSourceFile().getLineAndCharacterOfPosition(node.getStart()).line + 1;
  return `(anonymous, line ${line})`;
}

function className(node: ts.Node): string {
  return ts.isClassLike(node) && node.name ? node.name.getText() : '(class)';
}

function signatureSays(node: ts.Node): boolean {
  if (node.kind === ts.SyntaxKind.AnyKeyword) return true;
  if (ts.isAsExpression(node) && ts.isAsExpression(node.expression) && node.expression.type.kind === ts.SyntaxKind.UnknownKeyword) return true;
  // Block bodies are implementation, not API (an expression body is checked: its type is the return type).
  if (ts.isBlock(node)) return false;
  return ts.forEachChild(node, (child) => (signatureSays(child) ? true : undefined)) ?? false;
}

function isExported(statement: ts.Statement): boolean {
  return ts.canHaveModifiers(statement) && (ts.getModifiers(statement) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
}

function declarationName(statement: ts.Statement): string {
  if (ts.isVariableStatement(statement)) return statement.declarationList.declarations.map((d) => d.name.getText()).join(', ');
  const name = (statement as { name?: ts.Node }).name;
  return name ? name.getText() : ts.SyntaxKind[statement.kind];
}

function specifiers(ast: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) found.push(argument.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ast);
  return found;
}

function listTs(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return listTs(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function relative(root: string, absolute: string): string {
  return path.relative(root, absolute).split(path.sep).join('/');
}
